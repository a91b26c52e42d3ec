// The inherited-lease rule (issue 7, finding 12): attempts running when a scheduler starts come from a
// control plane that died without releasing them. Their workers get one lease period to check in; one that
// never does is released without using up an attempt; only an attempt seen alive here is charged when its
// lease lapses. Real SQLite store, FakeLauncher in place of worker processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { Job } from '../../src/jobs/job.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { applyTransition } from '../../src/jobs/state-machine.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { FakeLauncher, silentLog, tempDir, waitFor } from '../helpers.ts';

const LEASE_MS = 1000;

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const launcher = new FakeLauncher();
  const scheduler = new Scheduler(
    store,
    launcher,
    { concurrency: 2, leaseMs: LEASE_MS, intervalMs: 20, stopGraceMs: 10, retentionMs: 0 },
    silentLog,
  );
  t.after(async () => {
    await scheduler.stop();
    await store.close();
  });
  const template = getBuiltinTemplate('abr-default');
  /** A job the previous control plane claimed a minute ago: its lease lapsed long before this start. */
  const leftRunning = async (key: string): Promise<Job> => {
    const minuteAgo = new Date(Date.now() - 60_000);
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
      minuteAgo,
    );
    const job = await store.claimNext(`old-${key}`, 30_000, minuteAgo);
    assert.ok(job && job.status === 'PROGRESSING');
    return job;
  };
  const types = async (id: string) => (await store.events(id)).map((e) => e.type);
  return { store, launcher, scheduler, leftRunning, types };
}

test('inherit: the attempt keeps its token and gets one lease period from now, with a job event', () => {
  const now = new Date('2024-05-01T12:00:00.000Z');
  const job = {
    id: 'j1',
    status: 'PROGRESSING',
    attempts: 2,
    leaseHash: 'hash-of-tok',
    leaseUntil: '2024-05-01T11:59:00.000Z',
  } as Job;
  const r = applyTransition(job, { type: 'inherit', leaseMs: 5000 }, now);
  assert.equal(r.job.status, 'PROGRESSING');
  assert.equal(r.job.attempts, 2);
  assert.equal(r.job.leaseHash, 'hash-of-tok');
  assert.equal(r.job.leaseUntil, '2024-05-01T12:00:05.000Z');
  assert.equal(r.event.type, 'job:inherited');
  assert.deepEqual(r.event.data, { attempt: 2, leaseUntil: '2024-05-01T12:00:05.000Z' });
  assert.throws(() => applyTransition({ ...job, status: 'SUBMITTED' }, { type: 'inherit', leaseMs: 1 }, now));
});

test('an inherited attempt whose lease lapsed before the start is not failed at once: its worker gets a lease period', async (t) => {
  const { store, scheduler, leftRunning, types } = await setup(t);
  const job = await leftRunning('a.mp4');
  scheduler.start();
  // The first tick's decision: inherited (given time), or failed as lost (the old rule).
  await waitFor('the first decision', async () =>
    (await types(job.id)).some((e) => e === 'job:inherited' || e === 'job:retry'),
  );
  assert.ok(!(await types(job.id)).includes('job:retry'), 'not charged at start');
  const now = await store.get(job.id);
  assert.equal(now?.status, 'PROGRESSING');
  assert.equal(now?.attempts, 1);
  assert.equal(now?.leaseHash, job.leaseHash, 'the same attempt still holds the job');
  assert.ok(Date.parse(now?.leaseUntil ?? '') > Date.now(), 'its lease runs from the start');
});

test('an inherited attempt whose worker never checks in is released without using up an attempt, then reruns', async (t) => {
  const { store, launcher, scheduler, leftRunning } = await setup(t);
  const job = await leftRunning('b.mp4');
  scheduler.start();
  await waitFor('relaunched', async () => launcher.launched.some((l) => l.jobId === job.id));
  const history = await store.events(job.id);
  const released = history.find((e) => e.type === 'job:released');
  assert.match(String(released?.data.reason), /restarted.*did not check in/);
  assert.deepEqual(
    history.filter((e) => e.type === 'job:retry' || e.type === 'job:error'),
    [],
    'no WORKER_LOST charged',
  );
  const rerun = await store.get(job.id);
  assert.equal(rerun?.status, 'PROGRESSING');
  assert.equal(rerun?.attempts, 1, 'the rerun is attempt 1 again');
  assert.notEqual(rerun?.leaseHash, job.leaseHash, 'under a new lease');
});

test('an inherited attempt whose worker checks in keeps running and completes as attempt 1', async (t) => {
  const { store, launcher, scheduler, leftRunning, types } = await setup(t);
  const job = await leftRunning('c.mp4');
  const token = 'old-c.mp4'; // the plain token leftRunning claimed with (the store keeps its hash)
  scheduler.start();
  await waitFor('inherited', async () => (await types(job.id)).includes('job:inherited'));
  // The worker beats for longer than one lease period after the start, then reports.
  const end = Date.now() + 2 * LEASE_MS;
  while (Date.now() < end) {
    await store.transition(job.id, { type: 'heartbeat', leaseToken: token, leaseMs: LEASE_MS }, new Date());
    await new Promise((r) => setTimeout(r, LEASE_MS / 5));
  }
  const done = await store.transition(
    job.id,
    { type: 'complete', leaseToken: token, outputs: [] },
    new Date(),
  );
  assert.equal(done.status, 'COMPLETE');
  assert.equal(done.attempts, 1);
  assert.deepEqual(launcher.launched, [], 'no second worker was launched');
  assert.ok(!(await types(job.id)).includes('job:released'));
});

test('an inherited attempt seen alive here whose lease then lapses is its own failure: WORKER_LOST, charged', async (t) => {
  const { store, scheduler, leftRunning, types } = await setup(t);
  const job = await leftRunning('d.mp4');
  scheduler.start();
  await waitFor('inherited', async () => (await types(job.id)).includes('job:inherited'));
  await store.transition(
    job.id,
    { type: 'heartbeat', leaseToken: 'old-d.mp4', leaseMs: LEASE_MS },
    new Date(),
  );
  await waitFor('retried', async () => (await types(job.id)).includes('job:retry'));
  const retry = (await store.events(job.id)).find((e) => e.type === 'job:retry');
  assert.equal((retry?.data.error as { code: string } | undefined)?.code, 'WORKER_LOST');
  assert.ok(!(await types(job.id)).includes('job:released'));
});
