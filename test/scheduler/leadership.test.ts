// The scheduler among control planes sharing a store: only the leader expires leases and inherits the
// attempts left running (afresh each time it gains leadership); every replica launches, and with a shared
// store its concurrency counts its own workers, not the jobs other replicas run. Real SQLite store,
// FakeLauncher in place of worker processes, leadership switched by the test.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Leadership } from '../../src/jobs/leadership.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { FakeLauncher, silentLog, tempDir, waitFor } from '../helpers.ts';

const LEASE_MS = 300;

class Switch implements Leadership {
  leader = false;
  checks = 0;
  async isLeader(): Promise<boolean> {
    this.checks++;
    return this.leader;
  }
  async close(): Promise<void> {}
}

async function setup(
  t: Parameters<typeof tempDir>[0],
  o: { concurrency?: number; sharedStore?: boolean } = {},
) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const launcher = new FakeLauncher();
  const leadership = new Switch();
  const scheduler = new Scheduler(
    store,
    launcher,
    {
      concurrency: o.concurrency ?? 2,
      leaseMs: LEASE_MS,
      intervalMs: 20,
      stopGraceMs: 10,
      retentionMs: 0,
      leadership,
      ...(o.sharedStore ? { sharedStore: true } : {}),
    },
    silentLog,
  );
  t.after(async () => {
    await scheduler.stop();
    await store.close();
  });
  const template = getBuiltinTemplate('abr-default');
  const create = (key: string, at = new Date()) =>
    store.create(
      {
        pipeline: 'test',
        input: { bucket: 'source', key, etag: 'e1' },
        templateName: template.name,
        template,
        destination: { bucket: 'destination', prefix: key },
        userMetadata: {},
        idempotencyKey: key,
      },
      at,
    );
  /** A job another control plane claimed: its worker never heartbeats, so its lease lapses. */
  const claimedElsewhere = async (key: string, leaseMs = LEASE_MS) => {
    await create(key);
    const job = await store.claimNext(`other-${key}`, leaseMs, new Date());
    assert.ok(job && job.status === 'PROGRESSING');
    return job;
  };
  const types = async (id: string) => (await store.events(id)).map((e) => e.type);
  return { store, launcher, leadership, scheduler, create, claimedElsewhere, types };
}

test('a follower leaves lapsed leases and running attempts alone; on gaining leadership it inherits and puts back', async (t) => {
  const { store, leadership, scheduler, claimedElsewhere, types } = await setup(t, { concurrency: 0 });
  const job = await claimedElsewhere('a.mp4');
  scheduler.start();
  // Well past the lease, over many ticks: nothing done, and health says follower.
  await waitFor('ticks past the lease', async () => {
    const lapsed = Date.parse(job.leaseUntil ?? '') < Date.now() - 2 * LEASE_MS;
    return lapsed && leadership.checks > 10;
  });
  assert.equal(scheduler.isLeader(), false);
  assert.equal((await store.get(job.id))?.status, 'PROGRESSING');
  assert.deepEqual(await types(job.id), ['job:created', 'job:claimed']);

  leadership.leader = true;
  const released = await waitFor('put back by the new leader', async () => {
    const j = await store.get(job.id);
    return j?.status === 'SUBMITTED' && j;
  });
  assert.equal(scheduler.isLeader(), true);
  // Inherited first (its worker got a lease period to check in), then released without charge.
  assert.deepEqual(await types(job.id), ['job:created', 'job:claimed', 'job:inherited', 'job:released']);
  assert.equal(released.attempts, 0);
});

test('leadership lost and gained again: the attempts running then are inherited afresh', async (t) => {
  const { leadership, scheduler, claimedElsewhere, types } = await setup(t, { concurrency: 0 });
  leadership.leader = true;
  scheduler.start();
  await waitFor('leading', async () => scheduler.isLeader());
  leadership.leader = false;
  await waitFor('following', async () => !scheduler.isLeader());
  // Claimed while another replica leads, with a long lease: a gain must still inherit it.
  const job = await claimedElsewhere('b.mp4', 60_000);
  leadership.leader = true;
  await waitFor('inherited on the gain', async () => (await types(job.id)).includes('job:inherited'));
});

test('with a shared store, jobs other control planes run do not use up this one’s concurrency', async (t) => {
  const shared = await setup(t, { concurrency: 1, sharedStore: true });
  const elsewhere = await shared.claimedElsewhere('elsewhere.mp4', 60_000);
  const mine = await shared.create('mine.mp4');
  shared.scheduler.start();
  await waitFor('launched here', async () => shared.launcher.launched.some((l) => l.jobId === mine.job.id));
  // Launched beside the other replica's job, which runs on there untouched.
  assert.deepEqual(
    shared.launcher.launched.map((l) => l.jobId),
    [mine.job.id],
  );
  assert.deepEqual(await shared.types(elsewhere.id), ['job:created', 'job:claimed']);
});
