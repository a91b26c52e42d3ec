// The scheduler's decisions on a real SQLite store, with FakeLauncher standing in for worker processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../../src/jobs/job.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { retryDelayMs } from '../../src/jobs/state-machine.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { FakeLauncher, silentLog, tempDir, waitFor } from '../helpers.ts';

async function setup(
  t: Parameters<typeof tempDir>[0],
  o: { concurrency?: number; leaseMs?: number; retentionMs?: number } = {},
) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const launcher = new FakeLauncher();
  const scheduler = new Scheduler(
    store,
    launcher,
    {
      concurrency: o.concurrency ?? 2,
      leaseMs: o.leaseMs ?? 30_000,
      intervalMs: 20,
      stopGraceMs: 10,
      retentionMs: o.retentionMs ?? 0,
    },
    silentLog,
  );
  t.after(async () => {
    await scheduler.stop();
    await store.close();
  });
  // Every scheduler tick starts by looking for lapsed leases: counting those calls counts ticks, so a
  // test can wait for the scheduler to have looked again instead of sleeping.
  let ticks = 0;
  const expiredLeases = store.expiredLeases.bind(store);
  store.expiredLeases = (now: Date) => {
    ticks++;
    return expiredLeases(now);
  };
  /** Resolves once a whole scheduler tick has run after this call (ticks run one at a time). */
  const fullTick = async () => {
    const seen = ticks;
    await waitFor('a whole scheduler tick', async () => ticks >= seen + 2, 10_000);
  };
  const template = getBuiltinTemplate('abr-default');
  const add = async (key: string): Promise<Job> =>
    (
      await store.create(
        {
          pipeline: 'test',
          input: { bucket: 'source', key, etag: 'e1' },
          templateName: template.name,
          template,
          destination: { bucket: 'destination', prefix: key },
          userMetadata: {},
          idempotencyKey: key,
        },
        new Date(),
      )
    ).job;
  return { store, launcher, scheduler, add, fullTick };
}

test('at most `concurrency` jobs run at once; the rest wait in SUBMITTED and start as capacity frees', async (t) => {
  const { store, launcher, scheduler, add, fullTick } = await setup(t, { concurrency: 2 });
  const jobs = [await add('a.mp4'), await add('b.mp4'), await add('c.mp4')];
  scheduler.start();
  await waitFor('two launches', async () => launcher.launched.length >= 2);
  await fullTick();
  assert.equal(launcher.launched.length, 2, 'no third launch while two run');
  assert.deepEqual(
    launcher.launched.map((l) => l.jobId),
    [jobs[0]?.id, jobs[1]?.id],
    'oldest first',
  );
  assert.equal((await store.get(jobs[2]?.id ?? ''))?.status, 'SUBMITTED');
  const first = launcher.launched[0];
  assert.ok(first);
  await store.transition(
    first.jobId,
    { type: 'complete', leaseToken: first.leaseToken, outputs: [] },
    new Date(),
  );
  scheduler.poke();
  await waitFor('third launch', async () => launcher.launched.length === 3);
  assert.equal(launcher.launched[2]?.jobId, jobs[2]?.id);
});

test('a worker that cannot be launched leaves its job SUBMITTED with its attempt given back, and it is launched later', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1 });
  const job = await add('a.mp4');
  launcher.failNext = true;
  scheduler.start();
  const release = await waitFor('release', async () =>
    (await store.events(job.id)).find((e) => e.type === 'job:released'),
  );
  const released = await store.get(job.id);
  assert.ok(released);
  // The release event is stamped with the time it was made: runAfter is the backoff after it (a later
  // claim does not change runAfter, so this holds even if the job was already claimed again).
  const releasedAt = Date.parse(release.at);
  const runAfter = Date.parse(released.runAfter);
  const [least, most] = [retryDelayMs(1, 0), retryDelayMs(1, 0.999999)];
  assert.ok(
    runAfter - releasedAt >= least && runAfter - releasedAt <= most,
    `retried ${runAfter - releasedAt} ms after the failed launch; the first backoff step is ${least}-${most} ms`,
  );
  assert.equal(released.status, 'SUBMITTED', 'waiting out its backoff');
  assert.equal(released.attempts, 0, 'a launch that never happened is not an attempt');
  // The store's clock decides: a claim 1 ms before runAfter finds nothing.
  assert.equal(await store.claimNext('too-early', 30_000, new Date(runAfter - 1)), null);
  assert.equal((await store.get(job.id))?.status, 'SUBMITTED');
  // The scheduler keeps ticking and launches it once runAfter has passed, not before.
  const launch = await waitFor('launch after the backoff', async () => launcher.launched[0], 10_000);
  assert.equal(launch.jobId, job.id);
  const claims = (await store.events(job.id)).filter((e) => e.type === 'job:claimed');
  assert.equal(claims.length, 2, 'the failed launch and the later one');
  assert.ok(
    Date.parse(claims[1]?.at ?? '') >= runAfter,
    `claimed again at ${claims[1]?.at}, not before runAfter ${released.runAfter}`,
  );
  assert.ok((launcher.launchedAt[0] ?? 0) >= runAfter, 'launched after runAfter');
  assert.equal((await store.get(job.id))?.attempts, 1, 'the launch that happened is attempt 1');
});

test('a worker that exits without reporting makes its job retry (WORKER_LOST) with attempts counted', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1 });
  const job = await add('a.mp4');
  scheduler.poke();
  const launch = await waitFor('launch', async () => launcher.launched[0]);
  launcher.exit(launch, 137);
  const retried = await waitFor('retry', async () => {
    const j = await store.get(job.id);
    return j?.status === 'SUBMITTED' && j;
  });
  assert.equal(retried.error?.code, 'WORKER_LOST');
  assert.equal(retried.attempts, 1);
  const failedAt = Date.parse((await store.events(job.id)).find((e) => e.type === 'job:retry')?.at ?? '');
  const backoff = Date.parse(retried.runAfter) - failedAt;
  assert.ok(backoff >= retryDelayMs(1, 0), `backoff before the next attempt (${backoff} ms)`);
});

test('a worker exit after its job completed changes nothing', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1 });
  const job = await add('a.mp4');
  scheduler.poke();
  const launch = await waitFor('launch', async () => launcher.launched[0]);
  await store.transition(
    job.id,
    { type: 'complete', leaseToken: launch.leaseToken, outputs: [] },
    new Date(),
  );
  launcher.exit(launch, 0);
  await scheduler.settle();
  assert.equal((await store.get(job.id))?.status, 'COMPLETE');
});

test('a lapsed lease puts the job back for another attempt and stops the old worker', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1, leaseMs: 150 });
  const job = await add('a.mp4');
  scheduler.start();
  const first = await waitFor('launch', async () => launcher.launched[0]);
  const second = await waitFor('relaunch after lease expiry', async () => launcher.launched[1], 10_000);
  assert.equal(second.jobId, job.id);
  assert.notEqual(second.leaseToken, first.leaseToken, 'each attempt has its own token');
  assert.ok(launcher.stopped.includes(job.id));
  const events = (await store.events(job.id)).map((e) => e.type);
  assert.ok(events.includes('job:retry'));
});

test('cancel of a running job marks it CANCELED and stops its worker', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1 });
  const job = await add('a.mp4');
  scheduler.poke();
  await waitFor('launch', async () => launcher.launched[0]);
  const canceled = await scheduler.cancel(job.id, 'test');
  assert.equal(canceled.status, 'CANCELED');
  assert.deepEqual(launcher.stopped, [job.id]);
  assert.equal((await store.get(job.id))?.status, 'CANCELED');
});

test('finished jobs past the retention are purged with their events; queued and recent ones stay', async (t) => {
  const { store, scheduler, add } = await setup(t, { concurrency: 1, retentionMs: 86_400_000 });
  const old = await add('old.mp4');
  const recent = await add('recent.mp4');
  const queued = await add('queued.mp4');
  const longAgo = new Date(Date.now() - 40 * 86_400_000);
  await store.transition(old.id, { type: 'cancel', reason: 'test' }, longAgo);
  await store.transition(recent.id, { type: 'cancel', reason: 'test' }, new Date());
  scheduler.poke();
  await waitFor('purge', async () => (await store.get(old.id)) === null);
  assert.equal(await store.get(old.id), null, 'finished 40 days ago: purged');
  assert.deepEqual(await store.events(old.id), []);
  assert.equal((await store.get(recent.id))?.status, 'CANCELED');
  assert.ok(await store.get(queued.id), 'queued work is never purged');
});

test('graceful drain: a running job still running after the grace period is released, its attempt not counted', async (t) => {
  const { store, launcher, scheduler, add } = await setup(t, { concurrency: 1 });
  const job = await add('a.mp4');
  scheduler.start();
  const launch = await waitFor('launch', async () => launcher.launched[0]);
  // FakeLauncher: its shutdown does not exit workers by itself; report the stop as a real one would.
  launcher.shutdown = async () => launcher.exit(launch, 143);
  await scheduler.drain(50);
  const released = await store.get(job.id);
  assert.equal(released?.status, 'SUBMITTED');
  assert.equal(released?.attempts, 0);
  assert.ok((await store.events(job.id)).some((e) => e.type === 'job:released'));
});
