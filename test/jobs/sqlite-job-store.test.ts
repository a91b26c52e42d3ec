// SqliteJobStore on a real SQLite file: idempotent create, the job table as a FIFO queue with leases,
// fencing of stale attempts, the transactional job-event history and a lossless row mapping.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SluiceError } from '../../src/errors.ts';
import type { Job, JobOutput, NewJob } from '../../src/jobs/job.ts';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');
const LEASE_MS = 30_000;

function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function newJob(key: string, over: Partial<NewJob> = {}): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1234, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key.replace(/\.[^.]+$/, '') },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|etag-${key}`,
    ...over,
  };
}

type TestContext = { after: (fn: () => Promise<void>) => void };

/** A fresh temp dir per test; every store opened on it is closed before the dir is removed. */
async function fixture(t: TestContext) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-jobstore-'));
  const file = path.join(dir, 'sluice.db');
  const stores: SqliteJobStore[] = [];
  t.after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  });
  const open = async (migrate = true): Promise<SqliteJobStore> => {
    const s = new SqliteJobStore(file);
    stores.push(s);
    if (migrate) await s.migrate();
    return s;
  };
  return { dir, file, open, store: await open() };
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

test('migrate() is idempotent: twice on one store and again from a second store on the same file', async (t) => {
  const { file, open, store } = await fixture(t);
  await store.migrate(); // second time on the same store
  const { job } = await store.create(newJob('a.mp4'), T0);

  const second = await open(false);
  await second.migrate();
  await second.migrate();
  assert.deepEqual(await second.get(job.id), job, 'data survives re-migration');
  assert.equal((await second.list({})).length, 1);

  const raw = new Database(file, { readonly: true });
  try {
    const tables = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('jobs', 'job_events')")
      .all() as { name: string }[];
    assert.deepEqual(tables.map((r) => r.name).sort(), ['job_events', 'jobs']);
  } finally {
    raw.close();
  }
});

test('the database file is in WAL mode', async (t) => {
  const { file, store } = await fixture(t);
  await store.create(newJob('a.mp4'), T0);
  assert.ok(existsSync(`${file}-wal`), 'a -wal file exists next to the database while it is open');
  const raw = new Database(file, { readonly: true });
  try {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  } finally {
    raw.close();
  }
});

test('create() returns created:true, a SUBMITTED job and a job:created event', async (t) => {
  const { store } = await fixture(t);
  const input = newJob('videos/clip.mp4');
  const { job, created } = await store.create(input, T0);
  assert.equal(created, true);
  assert.equal(job.status, 'SUBMITTED');
  assert.equal(job.attempts, 0);
  assert.equal(job.maxAttempts, TEMPLATE.maxAttempts);
  assert.equal(job.createdAt, T0.toISOString());
  assert.equal(job.runAfter, T0.toISOString());
  assert.equal(job.leaseHash, null);
  assert.equal(job.idempotencyKey, input.idempotencyKey);
  assert.deepEqual(await store.get(job.id), job);

  const events = await store.events(job.id);
  assert.equal(events.length, 1);
  const [ev] = events;
  assert.equal(ev?.type, 'job:created');
  assert.equal(ev?.jobId, job.id);
  assert.equal(ev?.fromStatus, null);
  assert.equal(ev?.toStatus, 'SUBMITTED');
  assert.equal(ev?.at, T0.toISOString());
});

test('create() with the same idempotency key returns created:false and the same job; one row only', async (t) => {
  const { store } = await fixture(t);
  const first = await store.create(newJob('a.mp4'), T0);
  // Same key, even with other details changed: still the first job.
  const again = await store.create(newJob('a.mp4', { userMetadata: { replay: 'yes' } }), at(5_000));
  assert.equal(again.created, false);
  assert.equal(again.job.id, first.job.id);
  assert.deepEqual(again.job, first.job, 'the existing job is returned unchanged');
  assert.equal((await store.list({})).length, 1);
  assert.equal((await store.events(first.job.id)).length, 1, 'no second job:created event');
});

test('20 concurrent create() calls with the same idempotency key make one job', async (t) => {
  const { store } = await fixture(t);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => store.create(newJob('same.mp4'), at(i))),
  );
  assert.equal(results.filter((r) => r.created).length, 1, 'exactly one create wins');
  const ids = new Set(results.map((r) => r.job.id));
  assert.equal(ids.size, 1, 'every caller sees the same job id');
  const all = await store.list({});
  assert.equal(all.length, 1);
  assert.equal(all[0]?.id, [...ids][0]);
  assert.equal((await store.events([...ids][0] as string)).length, 1);
});

test('create() with a different etag / idempotency key makes a new job', async (t) => {
  const { store } = await fixture(t);
  const v1 = await store.create(newJob('a.mp4'), T0);
  const v2 = await store.create(
    newJob('a.mp4', {
      input: { bucket: 'source', key: 'a.mp4', size: 99, etag: 'etag-v2' },
      idempotencyKey: 'default|source|a.mp4|etag-v2',
    }),
    at(1),
  );
  assert.equal(v2.created, true);
  assert.notEqual(v2.job.id, v1.job.id);
  assert.equal((await store.list({})).length, 2);
});

test('claimNext() claims the oldest SUBMITTED job first (FIFO by createdAt) and sets the lease', async (t) => {
  const { store } = await fixture(t);
  // Inserted out of createdAt order, so insertion order cannot pass for FIFO.
  const b = (await store.create(newJob('b.mp4'), at(2_000))).job;
  const a = (await store.create(newJob('a.mp4'), at(1_000))).job;
  const c = (await store.create(newJob('c.mp4'), at(3_000))).job;

  const now = at(10_000);
  const first = await store.claimNext('token-1', LEASE_MS, now);
  assert.ok(first);
  assert.equal(first.id, a.id);
  assert.equal(first.status, 'PROGRESSING');
  assert.equal(first.attempts, 1);
  assert.equal(first.leaseHash, hashLeaseToken('token-1'));
  assert.equal(first.leaseUntil, new Date(now.getTime() + LEASE_MS).toISOString());
  assert.deepEqual(await store.get(a.id), first, 'the claim is persisted');

  assert.equal((await store.claimNext('token-2', LEASE_MS, now))?.id, b.id);
  assert.equal((await store.claimNext('token-3', LEASE_MS, now))?.id, c.id);
  assert.equal(await store.claimNext('token-4', LEASE_MS, now), null, 'queue is empty');
});

test('claimNext() respects runAfter: a job whose runAfter is in the future is not claimed', async (t) => {
  const { store } = await fixture(t);
  const future = (await store.create(newJob('future.mp4'), at(60_000))).job;
  assert.equal(await store.claimNext('t0', LEASE_MS, at(0)), null, 'runAfter = createdAt is in the future');

  // A retried job waits out its backoff even though it is the oldest SUBMITTED job.
  const old = (await store.create(newJob('old.mp4'), at(-10_000))).job;
  await store.claimNext('t1', LEASE_MS, at(0));
  const retried = await store.transition(
    old.id,
    {
      type: 'fail',
      leaseToken: 't1',
      error: { code: 'TRANSCODE_FAILED', message: 'boom' },
      retryable: true,
      retryDelayMs: 30_000,
    },
    at(1_000),
  );
  assert.equal(retried.status, 'SUBMITTED');
  assert.equal(retried.runAfter, at(31_000).toISOString());

  assert.equal(await store.claimNext('t2', LEASE_MS, at(30_999)), null);
  assert.equal((await store.claimNext('t3', LEASE_MS, at(31_000)))?.id, old.id, 'runnable once runAfter');
  assert.equal(await store.claimNext('t4', LEASE_MS, at(59_999)), null);
  assert.equal((await store.claimNext('t5', LEASE_MS, at(60_000)))?.id, future.id);
});

test('concurrent claimNext() calls hand out each job at most once', async (t) => {
  const { store } = await fixture(t);
  for (const key of ['a.mp4', 'b.mp4', 'c.mp4']) await store.create(newJob(key), T0);
  const now = at(1_000);
  const claims = await Promise.all(
    Array.from({ length: 10 }, (_, i) => store.claimNext(`token-${i}`, LEASE_MS, now)),
  );
  const won = claims.flatMap((j, i) => (j ? [{ job: j, token: `token-${i}` }] : []));
  assert.equal(won.length, 3);
  assert.equal(claims.filter((j) => j === null).length, 7);
  assert.equal(new Set(won.map((w) => w.job.id)).size, 3, 'no job handed out twice');
  for (const w of won) {
    const stored = await store.get(w.job.id);
    assert.equal(
      stored?.leaseHash,
      hashLeaseToken(w.token),
      'the stored lease belongs to the caller that got the job',
    );
    assert.equal(stored?.attempts, 1, 'claimed once, not twice');
    assert.equal((await store.events(w.job.id)).filter((e) => e.type === 'job:claimed').length, 1);
  }
  assert.equal(await store.countByStatus('PROGRESSING'), 3);
  assert.equal(await store.countByStatus('SUBMITTED'), 0);
});

test('transition() records a job event with every non-progress transition, none for progress heartbeats', async (t) => {
  const { store } = await fixture(t);
  const { job } = await store.create(newJob('a.mp4'), T0);
  const types = async () => (await store.events(job.id)).map((e) => e.type);

  await store.claimNext('tok', LEASE_MS, at(1_000));
  assert.deepEqual(await types(), ['job:created', 'job:claimed'], 'claim writes its event in the same call');

  await store.transition(job.id, { type: 'start', leaseToken: 'tok', leaseMs: LEASE_MS }, at(2_000));
  assert.deepEqual(await types(), ['job:created', 'job:claimed', 'job:started']);

  const hb1 = await store.transition(
    job.id,
    { type: 'heartbeat', leaseToken: 'tok', leaseMs: LEASE_MS, progress: { percent: 10 } },
    at(3_000),
  );
  const hb2 = await store.transition(
    job.id,
    { type: 'heartbeat', leaseToken: 'tok', leaseMs: LEASE_MS, progress: { percent: 50, fps: 30 } },
    at(4_000),
  );
  assert.equal(hb1.progress.percent, 10);
  assert.equal(hb2.progress.percent, 50);
  const stored = await store.get(job.id);
  assert.equal(stored?.progress.percent, 50, 'the heartbeat itself was saved');
  assert.equal(stored?.leaseUntil, at(4_000 + LEASE_MS).toISOString(), 'the heartbeat renewed the lease');
  assert.deepEqual(await types(), ['job:created', 'job:claimed', 'job:started'], 'no event for progress');

  await store.transition(job.id, { type: 'complete', leaseToken: 'tok', outputs: [] }, at(5_000));
  const events = await store.events(job.id);
  assert.deepEqual(
    events.map((e) => [e.type, e.fromStatus, e.toStatus, e.at]),
    [
      ['job:created', null, 'SUBMITTED', at(0).toISOString()],
      ['job:claimed', 'SUBMITTED', 'PROGRESSING', at(1_000).toISOString()],
      ['job:started', 'PROGRESSING', 'PROGRESSING', at(2_000).toISOString()],
      ['job:complete', 'PROGRESSING', 'COMPLETE', at(5_000).toISOString()],
    ],
  );
  const ids = events.map((e) => e.id);
  assert.deepEqual(
    ids,
    [...ids].sort((x, y) => x - y),
    'events come back in the order they were written',
  );
});

test('a stale lease token cannot heartbeat, complete or fail (LEASE_LOST) and leaves the job unchanged', async (t) => {
  const { store } = await fixture(t);
  const { job } = await store.create(newJob('a.mp4'), T0);
  await store.claimNext('old-token', LEASE_MS, at(1_000));
  await store.transition(
    job.id,
    {
      type: 'fail',
      leaseToken: 'old-token',
      error: { code: 'WORKER_LOST', message: 'gone' },
      retryable: true,
      retryDelayMs: 1_000,
    },
    at(2_000),
  );
  const reclaimed = await store.claimNext('new-token', LEASE_MS, at(5_000));
  assert.equal(reclaimed?.id, job.id);
  assert.equal(reclaimed?.attempts, 2);

  const before = await store.get(job.id);
  const eventsBefore = await store.events(job.id);

  await rejectsWithCode(
    store.transition(
      job.id,
      { type: 'heartbeat', leaseToken: 'old-token', leaseMs: LEASE_MS, progress: { percent: 99 } },
      at(6_000),
    ),
    'LEASE_LOST',
  );
  await rejectsWithCode(
    store.transition(job.id, { type: 'complete', leaseToken: 'old-token', outputs: [] }, at(6_000)),
    'LEASE_LOST',
  );
  await rejectsWithCode(
    store.transition(
      job.id,
      {
        type: 'fail',
        leaseToken: 'old-token',
        error: { code: 'TRANSCODE_FAILED', message: 'late' },
        retryable: false,
        retryDelayMs: 0,
      },
      at(6_000),
    ),
    'LEASE_LOST',
  );

  assert.deepEqual(await store.get(job.id), before, 'the job is unchanged');
  assert.deepEqual(await store.events(job.id), eventsBefore, 'no event was written');

  // The current holder still can.
  const done = await store.transition(
    job.id,
    { type: 'complete', leaseToken: 'new-token', outputs: [] },
    at(7_000),
  );
  assert.equal(done.status, 'COMPLETE');
});

test('expiredLeases(now) returns only PROGRESSING jobs whose leaseUntil is before now', async (t) => {
  const { file, store } = await fixture(t);
  const short = (await store.create(newJob('short.mp4'), at(-40))).job;
  const long = (await store.create(newJob('long.mp4'), at(-30))).job;
  const done = (await store.create(newJob('done.mp4'), at(-20))).job;
  const queued = (await store.create(newJob('queued.mp4'), at(-10))).job;

  await store.claimNext('t-short', 30_000, at(0)); // lease until +30 s
  await store.claimNext('t-long', 60_000, at(0)); // lease until +60 s
  await store.claimNext('t-done', 10_000, at(0));
  await store.transition(done.id, { type: 'complete', leaseToken: 't-done', outputs: [] }, at(1_000));
  // The state machine clears the lease on completion; give the finished row a stale one anyway, so the
  // status filter is what keeps it out (not just a NULL leaseUntil).
  const raw = new Database(file);
  try {
    raw.prepare('UPDATE jobs SET lease_until = ? WHERE id = ?').run(at(5_000).toISOString(), done.id);
  } finally {
    raw.close();
  }

  const ids = async (ms: number) => (await store.expiredLeases(at(ms))).map((j) => j.id).sort();

  assert.deepEqual(await ids(29_999), []);
  assert.deepEqual(await ids(30_000), [], 'a lease ending exactly now has not lapsed yet');
  assert.deepEqual(await ids(45_000), [short.id]);
  assert.deepEqual(await ids(120_000), [short.id, long.id].sort(), 'never the COMPLETE or SUBMITTED job');

  // A heartbeat renews the lease, so the job is no longer expired at the same instant.
  await store.transition(long.id, { type: 'start', leaseToken: 't-long', leaseMs: 300_000 }, at(50_000));
  assert.deepEqual(await ids(120_000), [short.id]);
  assert.ok(!(await ids(1_000_000)).includes(queued.id));
});

test('countByStatus() counts jobs per status', async (t) => {
  const { store } = await fixture(t);
  for (let i = 0; i < 5; i++) await store.create(newJob(`j${i}.mp4`), at(i));
  await store.claimNext('p', LEASE_MS, at(10)); // j0 -> PROGRESSING
  const j1 = await store.claimNext('c', LEASE_MS, at(10));
  assert.ok(j1);
  await store.transition(j1.id, { type: 'complete', leaseToken: 'c', outputs: [] }, at(20));
  const j2 = await store.claimNext('e', LEASE_MS, at(10));
  assert.ok(j2);
  await store.transition(
    j2.id,
    {
      type: 'fail',
      leaseToken: 'e',
      error: { code: 'INPUT_UNREADABLE', message: 'bad' },
      retryable: false,
      retryDelayMs: 0,
    },
    at(20),
  );

  assert.equal(await store.countByStatus('SUBMITTED'), 2);
  assert.equal(await store.countByStatus('PROGRESSING'), 1);
  assert.equal(await store.countByStatus('COMPLETE'), 1);
  assert.equal(await store.countByStatus('ERROR'), 1);
  assert.equal(await store.countByStatus('CANCELED'), 0);
});

test('list({status}) filters by status and orders newest first; limit caps the result', async (t) => {
  const { store } = await fixture(t);
  const j1 = (await store.create(newJob('1.mp4'), at(1_000))).job;
  const j3 = (await store.create(newJob('3.mp4'), at(3_000))).job;
  const j2 = (await store.create(newJob('2.mp4'), at(2_000))).job;
  const j4 = (await store.create(newJob('4.mp4'), at(4_000))).job;
  await store.claimNext('tok', LEASE_MS, at(10_000)); // claims j1, the oldest

  assert.deepEqual(
    (await store.list({})).map((j) => j.id),
    [j4.id, j3.id, j2.id, j1.id],
  );
  assert.deepEqual(
    (await store.list({ status: 'SUBMITTED' })).map((j) => j.id),
    [j4.id, j3.id, j2.id],
  );
  assert.deepEqual(
    (await store.list({ status: 'PROGRESSING' })).map((j) => j.id),
    [j1.id],
  );
  assert.deepEqual(await store.list({ status: 'COMPLETE' }), []);
  assert.deepEqual(
    (await store.list({ status: 'SUBMITTED', limit: 2 })).map((j) => j.id),
    [j4.id, j3.id],
  );
});

test('get() of an unknown id returns null', async (t) => {
  const { store } = await fixture(t);
  await store.create(newJob('a.mp4'), T0);
  assert.equal(await store.get('job_doesnotexist'), null);
});

test('transition() of an unknown id fails with JOB_NOT_FOUND', async (t) => {
  const { store } = await fixture(t);
  await rejectsWithCode(
    store.transition('job_doesnotexist', { type: 'cancel', reason: 'x' }, T0),
    'JOB_NOT_FOUND',
  );
  assert.deepEqual(await store.events('job_doesnotexist'), []);
});

test('a job round-trips every field through the row mapping unchanged', async (t) => {
  const { store, open } = await fixture(t);
  const input = newJob('deep/path/clip ü.mov', {
    pipeline: 'fan-out-1',
    input: { bucket: 'source', key: 'deep/path/clip ü.mov', size: 987_654_321, etag: '3b9aca0-5f1e' },
    destination: { bucket: 'output', prefix: 'deep/path/clip ü' },
    userMetadata: { customer: 'ACME', 'note with spaces': 'ünïcödé "quoted" \n newline', empty: '' },
    maxAttempts: 7,
  });
  const created = await store.create(input, T0);
  assert.deepEqual(created.job.template, TEMPLATE, 'template stored as given');
  assert.deepEqual(await store.get(created.job.id), created.job, 'fresh job round-trips');
  assert.equal(created.job.maxAttempts, 7);

  const inputMedia: MediaInfo = {
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 12.345,
    sizeBytes: 987_654_321,
    bitRate: 4_500_000,
    video: {
      codec: 'h264',
      width: 1920,
      height: 1080,
      displayWidth: 1080,
      displayHeight: 1920,
      rotation: 90,
      frameRate: 29.97,
      variableFrameRate: true,
      pixelFormat: 'yuv420p',
      bitDepth: 8,
      colorTransfer: null,
      colorPrimaries: 'bt709',
      hdr: false,
      bitRate: 4_000_000,
    },
    audio: { codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 48_000, bitRate: null },
    streamCount: 2,
  };
  const outputs: JobOutput[] = [
    { type: 'hls', bucket: 'output', key: 'deep/path/clip ü/hls/master.m3u8', size: 512 },
    { type: 'dash', bucket: 'output', key: 'deep/path/clip ü/dash/manifest.mpd' },
    {
      type: 'rendition',
      bucket: 'output',
      key: 'deep/path/clip ü/720p',
      analysis: { name: '720p', peakBitrate: 3_100_000, averageBitrate: 2_950_000.5, note: null },
    },
  ];

  await store.claimNext('tok', LEASE_MS, at(1_000));
  const mid = await store.transition(
    created.job.id,
    {
      type: 'heartbeat',
      leaseToken: 'tok',
      leaseMs: LEASE_MS,
      phase: 'TRANSCODING',
      progress: { percent: 42.5, fps: 59.94, speed: 1.75, etaSeconds: 8.25 },
      inputMedia,
      stderrTail: 'frame=  100 fps= 60\nspeed=1.75x',
    },
    at(2_000),
  );
  assert.deepEqual(await store.get(created.job.id), mid, 'a progressing job with media info round-trips');
  assert.deepEqual(mid.inputMedia, inputMedia);

  const done = await store.transition(
    created.job.id,
    { type: 'complete', leaseToken: 'tok', outputs, stderrTail: 'done' },
    at(3_000),
  );
  assert.deepEqual(await store.get(created.job.id), done, 'a completed job with outputs round-trips');
  assert.deepEqual(done.outputs, outputs);

  // error round-trips on a second job that ends in ERROR
  const other = (await store.create(newJob('broken.mp4'), at(4_000))).job;
  await store.claimNext('tok2', LEASE_MS, at(5_000));
  const failed = await store.transition(
    other.id,
    {
      type: 'fail',
      leaseToken: 'tok2',
      error: { code: 'INPUT_UNREADABLE', message: 'moov atom not found: "x"' },
      retryable: false,
      retryDelayMs: 0,
      stderrTail: 'moov atom not found',
    },
    at(6_000),
  );
  assert.deepEqual(failed.error, { code: 'INPUT_UNREADABLE', message: 'moov atom not found: "x"' });
  assert.deepEqual(await store.get(other.id), failed, 'a failed job with its error round-trips');

  // And through a fresh connection to the same file, not just the writer's.
  const reader = await open();
  const expectedDone: Job = done;
  assert.deepEqual(await reader.get(created.job.id), expectedDone);
  assert.deepEqual(await reader.get(other.id), failed);
});
