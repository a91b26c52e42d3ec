// The JobStore contract: one set of cases every store must pass (SQLite, PostgreSQL), registered on
// node:test by jobStoreContract(). A store is opened fresh for each case (its own file or schema); a
// case that needs concurrent writers opens peers on the same database (other connections where the
// store has them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import type { SkipNotice, SkipRecordStore } from '../../src/ingest/skip-log.ts';
import type { JobOutput, NewJob } from '../../src/jobs/job.ts';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import type { Transition } from '../../src/jobs/state-machine.ts';
import type { WorkerTokenStore } from '../../src/jobs/worker-token-store.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';

export type ContractStore = JobStore & SkipRecordStore & WorkerTokenStore;

export interface StoreDatabase {
  /** The store of the case, migrated. */
  store: ContractStore;
  /** Another store on the same database (closed with the case); migrated unless told not to. */
  peer(o?: { migrate?: boolean }): Promise<ContractStore>;
  /** How many migrations the database recorded, and how many the store knows. */
  migrations(): Promise<{ applied: number; known: number }>;
  /** Sets a column of a job row directly, past the store (to build states no transition makes). */
  poke(jobId: string, column: 'lease_until', value: string): Promise<void>;
  /** Whether `text` appears anywhere in the jobs table (a plain token must not). */
  jobsContain(text: string): Promise<boolean>;
}

export interface StoreFactory {
  /** A fresh, empty, migrated database for one case; everything it opened is closed and removed after. */
  open(t: { after: (fn: () => Promise<void>) => void }): Promise<StoreDatabase>;
  /** Peers are separate connections (PostgreSQL), or the store itself (SQLite: one process opens it). */
  peersAreConnections: boolean;
}

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

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function codeOf(err: unknown): string {
  return err instanceof SluiceError ? err.code : `not a SluiceError: ${String(err)}`;
}

/** Resolves at the listener's next call (after `arm`); a wake-up that never comes fails the case. */
function wakes(store: JobStore) {
  let calls = 0;
  const waiters: (() => void)[] = [];
  const off = store.onWork?.(() => {
    calls++;
    for (const w of waiters.splice(0)) w();
  });
  assert.ok(off, 'the store offers onWork');
  return {
    off,
    calls: () => calls,
    /** A promise of the next call after now. */
    next(what: string): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no onWork wake-up after ${what}`)), 10_000);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** PostgreSQL's listener connects in the background; a wake-up test starts once it listens. */
async function listening(store: JobStore): Promise<void> {
  await (store as { listeningReady?: () => Promise<void> }).listeningReady?.();
}

const fail = (token: string, retryable: boolean, retryDelayMs = 0): Transition =>
  ({
    type: 'fail',
    leaseToken: token,
    error: { code: retryable ? 'TRANSCODE_FAILED' : 'INPUT_UNREADABLE', message: 'boom' },
    retryable,
    retryDelayMs,
  }) as const;

export function jobStoreContract(name: string, factory: StoreFactory): void {
  const open = factory.open;

  test(`${name}: migrate() is idempotent, from the same store and from a second one`, async (t) => {
    const db = await open(t);
    await db.store.migrate();
    const { job } = await db.store.create(newJob('a.mp4'), T0);
    const second = await db.peer({ migrate: false });
    await second.migrate();
    await second.migrate();
    assert.deepEqual(await second.get(job.id), job, 'data survives re-migration');
    const m = await db.migrations();
    assert.equal(m.applied, m.known);
  });

  test(`${name}: two stores migrating one fresh database at the same moment both succeed, once`, async (t) => {
    const db = await open(t);
    const a = await db.peer({ migrate: false });
    const b = await db.peer({ migrate: false });
    const c = await db.peer({ migrate: false });
    await Promise.all([a.migrate(), b.migrate(), c.migrate()]);
    const m = await db.migrations();
    assert.equal(m.applied, m.known, 'every migration recorded once');
    const { job } = await a.create(newJob('after.mp4'), T0);
    assert.equal((await b.get(job.id))?.id, job.id);
  });

  test(`${name}: create() makes a SUBMITTED job with its job:created event and ledger entry`, async (t) => {
    const { store } = await open(t);
    const input = newJob('videos/clip.mp4');
    const { job, created } = await store.create(input, T0);
    assert.equal(created, true);
    assert.equal(job.status, 'SUBMITTED');
    assert.equal(job.attempts, 0);
    assert.equal(job.maxAttempts, TEMPLATE.maxAttempts);
    assert.equal(job.createdAt, T0.toISOString());
    assert.equal(job.runAfter, T0.toISOString());
    assert.equal(job.leaseHash, null);
    assert.equal(job.versionGroup, input.idempotencyKey, 'the version group defaults to the key');
    assert.deepEqual(await store.get(job.id), job);
    const events = await store.events(job.id);
    assert.deepEqual(
      events.map((e) => [e.type, e.jobId, e.fromStatus, e.toStatus, e.at]),
      [['job:created', job.id, null, 'SUBMITTED', T0.toISOString()]],
    );
    assert.deepEqual(await store.ingested(input.idempotencyKey), {
      idempotencyKey: input.idempotencyKey,
      jobId: job.id,
      ingestedAt: T0.toISOString(),
    });
    assert.equal(await store.ingested('default|source|never|x'), null);
  });

  test(`${name}: create() with a known key returns the existing job unchanged; a new key makes a job`, async (t) => {
    const { store } = await open(t);
    const first = await store.create(newJob('a.mp4'), T0);
    const again = await store.create(newJob('a.mp4', { userMetadata: { replay: 'yes' } }), at(5_000));
    assert.equal(again.created, false);
    assert.deepEqual(again.job, first.job);
    assert.equal((await store.events(first.job.id)).length, 1, 'no second job:created event');
    const v2 = await store.create(
      newJob('a.mp4', {
        input: { bucket: 'source', key: 'a.mp4', size: 99, etag: 'etag-v2' },
        idempotencyKey: 'default|source|a.mp4|etag-v2',
      }),
      at(1),
    );
    assert.equal(v2.created, true);
    assert.notEqual(v2.job.id, first.job.id);
    assert.equal((await store.list({})).length, 2);
  });

  test(`${name}: 20 concurrent create() calls with one key, from several stores, make one job`, async (t) => {
    const db = await open(t);
    const peers = [db.store, await db.peer(), await db.peer(), await db.peer()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (peers[i % peers.length] as ContractStore).create(newJob('same.mp4'), at(i)),
      ),
    );
    assert.equal(results.filter((r) => r.created).length, 1, 'exactly one create wins');
    const ids = new Set(results.map((r) => r.job.id));
    assert.equal(ids.size, 1, 'every caller sees the same job');
    assert.equal((await db.store.list({})).length, 1);
    assert.equal((await db.store.events([...ids][0] as string)).length, 1);
  });

  test(`${name}: the ledger outlives the job: purgeFinished() deletes finished jobs and events, never queued ones`, async (t) => {
    const { store } = await open(t);
    const old = (await store.create(newJob('old.mp4'), at(0))).job;
    const queued = (await store.create(newJob('queued.mp4'), at(1))).job;
    const recent = (await store.create(newJob('recent.mp4'), at(2))).job;
    await store.claimNext('t-old', LEASE_MS, at(10));
    await store.transition(old.id, { type: 'complete', leaseToken: 't-old', outputs: [] }, at(100));
    await store.claimNext('t-q', LEASE_MS, at(10)); // queued -> PROGRESSING: running work stays
    await store.claimNext('t-r', LEASE_MS, at(10));
    await store.transition(recent.id, fail('t-r', false), at(10_000));

    assert.equal(await store.purgeFinished(at(100)), 0, 'ended exactly at the bound: kept');
    assert.equal(await store.purgeFinished(at(5_000)), 1);
    assert.equal(await store.get(old.id), null);
    assert.deepEqual(await store.events(old.id), []);
    assert.equal((await store.ingested(old.idempotencyKey))?.jobId, old.id, 'the ledger remembers it');
    assert.equal((await store.get(queued.id))?.status, 'PROGRESSING');
    assert.equal((await store.get(recent.id))?.status, 'ERROR');
    assert.equal(await store.purgeFinished(at(1_000_000)), 1);
    assert.equal((await store.get(queued.id))?.status, 'PROGRESSING', 'never purged while it runs');
  });

  test(`${name}: supersede() cancels the queued and running jobs of a version group, not the new one nor finished ones`, async (t) => {
    const { store } = await open(t);
    const group = 'default|source|a.mp4';
    const v = (n: number) =>
      newJob('a.mp4', {
        idempotencyKey: `${group}|v${n}`,
        versionGroup: group,
        input: { bucket: 'source', key: 'a.mp4', etag: `v${n}` },
      });
    const running = (await store.create(v(1), at(0))).job;
    await store.claimNext('t1', LEASE_MS, at(1));
    const done = (await store.create(v(2), at(2))).job;
    await store.claimNext('t2', LEASE_MS, at(3));
    await store.transition(done.id, { type: 'complete', leaseToken: 't2', outputs: [] }, at(4));
    const queued = (await store.create(v(3), at(5))).job;
    const other = (await store.create(newJob('b.mp4'), at(6))).job;
    const newest = (await store.create(v(4), at(7))).job;

    const canceled = await store.supersede(group, newest.id, at(10));
    assert.deepEqual(canceled.map((j) => j.id).sort(), [running.id, queued.id].sort());
    for (const j of canceled) {
      assert.equal(j.status, 'CANCELED');
      assert.equal(j.error?.code, 'SUPERSEDED');
      assert.deepEqual(await store.get(j.id), j);
      const last = (await store.events(j.id)).at(-1);
      assert.deepEqual([last?.type, last?.data.by], ['job:superseded', newest.id]);
    }
    assert.equal((await store.get(done.id))?.status, 'COMPLETE');
    assert.equal((await store.get(other.id))?.status, 'SUBMITTED');
    assert.equal((await store.get(newest.id))?.status, 'SUBMITTED');
    assert.deepEqual(await store.supersede(group, newest.id, at(11)), [], 'nothing left to supersede');
  });

  test(`${name}: replaceOutputs() marks the other COMPLETE jobs of an output set, once`, async (t) => {
    const { store } = await open(t);
    const outputs: JobOutput[] = [{ type: 'hls', bucket: 'output', key: 'a/master.m3u8' }];
    const mk = async (n: number, complete: boolean) => {
      const { job } = await store.create(newJob('a.mp4', { idempotencyKey: `k${n}` }), at(n));
      if (!complete) return job;
      await store.claimNext(`t${n}`, LEASE_MS, at(n));
      return store.transition(job.id, { type: 'complete', leaseToken: `t${n}`, outputs }, at(n + 1));
    };
    const a = await mk(0, true);
    const b = await mk(10, true);
    const queued = await mk(20, false);
    const elsewhere = (await store.create(newJob('z.mp4'), at(30))).job;
    assert.deepEqual(await store.replaceOutputs('output/a', b.id, at(40)), [a.id]);
    const replaced = await store.get(a.id);
    assert.equal(replaced?.outputsReplacedBy, b.id);
    assert.deepEqual(replaced?.outputs, []);
    assert.deepEqual((await store.get(b.id))?.outputs, outputs, 'the new job keeps its outputs');
    assert.equal((await store.get(queued.id))?.outputsReplacedBy, null);
    assert.equal((await store.get(elsewhere.id))?.outputsReplacedBy, null);
    assert.deepEqual(await store.replaceOutputs('output/a', b.id, at(50)), [], 'already replaced');
  });

  test(`${name}: get(), findByIdPrefix() and list() find, order newest first, filter and limit`, async (t) => {
    const { store } = await open(t);
    const j1 = (await store.create(newJob('1.mp4'), at(1_000))).job;
    const j3 = (await store.create(newJob('3.mp4'), at(3_000))).job;
    const j2 = (await store.create(newJob('2.mp4'), at(2_000))).job;
    const j4 = (await store.create(newJob('4.mp4'), at(4_000))).job;
    // Same createdAt: insertion order breaks the tie (newest first means inserted last first).
    const t1 = (await store.create(newJob('tie-1.mp4'), at(5_000))).job;
    const t2 = (await store.create(newJob('tie-2.mp4'), at(5_000))).job;
    await store.claimNext('tok', LEASE_MS, at(10_000)); // j1, the oldest
    const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id);
    assert.deepEqual(ids(await store.list({})), [t2.id, t1.id, j4.id, j3.id, j2.id, j1.id]);
    assert.deepEqual(ids(await store.list({ status: 'PROGRESSING' })), [j1.id]);
    assert.deepEqual(ids(await store.list({ status: 'SUBMITTED', limit: 2 })), [t2.id, t1.id]);
    assert.deepEqual(await store.list({ status: 'COMPLETE' }), []);
    assert.equal(await store.get('job_doesnotexist'), null);

    const all = [j1, j2, j3, j4, t1, t2];
    const shared = j1.id.slice(0, 4); // `job_`: every id
    assert.deepEqual(ids(await store.findByIdPrefix(shared, 100)), ids(all).sort());
    assert.equal((await store.findByIdPrefix(shared, 2)).length, 2);
    assert.deepEqual(ids(await store.findByIdPrefix(j3.id, 10)), [j3.id]);
    assert.deepEqual(await store.findByIdPrefix('job%', 10), [], 'no wildcard');
    assert.deepEqual(await store.findByIdPrefix('jo_', 10), [], '`_` is not a wildcard');
  });

  test(`${name}: events come back in write order; progress heartbeats write none`, async (t) => {
    const { store } = await open(t);
    const { job } = await store.create(newJob('a.mp4'), T0);
    await store.claimNext('tok', LEASE_MS, at(1_000));
    await store.transition(job.id, { type: 'start', leaseToken: 'tok', leaseMs: LEASE_MS }, at(2_000));
    const hb = await store.transition(
      job.id,
      { type: 'heartbeat', leaseToken: 'tok', leaseMs: LEASE_MS, progress: { percent: 50, fps: 30 } },
      at(3_000),
    );
    assert.equal(hb.progress.percent, 50);
    assert.equal((await store.get(job.id))?.leaseUntil, at(3_000 + LEASE_MS).toISOString());
    await store.transition(
      job.id,
      { type: 'heartbeat', leaseToken: 'tok', leaseMs: LEASE_MS, phase: 'TRANSCODING' },
      at(3_500),
    );
    await store.transition(job.id, { type: 'complete', leaseToken: 'tok', outputs: [] }, at(4_000));
    const events = await store.events(job.id);
    assert.deepEqual(
      events.map((e) => [e.type, e.fromStatus, e.toStatus, e.at]),
      [
        ['job:created', null, 'SUBMITTED', at(0).toISOString()],
        ['job:claimed', 'SUBMITTED', 'PROGRESSING', at(1_000).toISOString()],
        ['job:started', 'PROGRESSING', 'PROGRESSING', at(2_000).toISOString()],
        ['job:phase', 'PROGRESSING', 'PROGRESSING', at(3_500).toISOString()],
        ['job:complete', 'PROGRESSING', 'COMPLETE', at(4_000).toISOString()],
      ],
    );
    assert.deepEqual(events[3]?.data, { phase: 'TRANSCODING' });
    const eventIds = events.map((e) => e.id);
    assert.ok(eventIds.every((id) => typeof id === 'number'));
    assert.deepEqual(
      eventIds,
      [...eventIds].sort((x, y) => x - y),
    );
  });

  test(`${name}: invalid transitions are refused and change nothing`, async (t) => {
    const { store } = await open(t);
    await rejectsWithCode(store.transition('job_nope', { type: 'cancel', reason: 'x' }, T0), 'JOB_NOT_FOUND');
    const { job } = await store.create(newJob('a.mp4'), T0);
    await rejectsWithCode(
      store.transition(job.id, { type: 'retry', reason: 'x' }, at(1)),
      'INVALID_TRANSITION',
    );
    await rejectsWithCode(
      store.transition(job.id, { type: 'release', reason: 'x', retryDelayMs: 0 }, at(1)),
      'INVALID_TRANSITION',
    );
    await store.claimNext('old', LEASE_MS, at(1_000));
    await store.transition(job.id, fail('old', true, 1_000), at(2_000));
    const again = await store.claimNext('new', LEASE_MS, at(5_000));
    assert.equal(again?.attempts, 2);
    const before = await store.get(job.id);
    const eventsBefore = await store.events(job.id);
    const stale: Transition[] = [
      { type: 'heartbeat', leaseToken: 'old', leaseMs: LEASE_MS, progress: { percent: 99 } },
      { type: 'complete', leaseToken: 'old', outputs: [] },
      fail('old', false),
    ];
    for (const tr of stale) {
      await rejectsWithCode(store.transition(job.id, tr, at(6_000)), 'LEASE_LOST');
    }
    assert.deepEqual(await store.get(job.id), before, 'the job is unchanged');
    assert.deepEqual(await store.events(job.id), eventsBefore, 'no event was written');
    const done = await store.transition(
      job.id,
      { type: 'complete', leaseToken: 'new', outputs: [] },
      at(7_000),
    );
    assert.equal(done.status, 'COMPLETE');
    await rejectsWithCode(
      store.transition(job.id, { type: 'cancel', reason: 'late' }, at(8_000)),
      'INVALID_TRANSITION',
    );
    await rejectsWithCode(
      store.transition(job.id, { type: 'retry', reason: 'x' }, at(9_000)),
      'INVALID_TRANSITION',
    );
    assert.equal((await store.get(job.id))?.status, 'COMPLETE');
  });

  test(`${name}: claimNext() takes the oldest runnable job (createdAt, then insertion), honours runAfter, keeps only the lease hash`, async (t) => {
    const db = await open(t);
    const { store } = db;
    const b = (await store.create(newJob('b.mp4'), at(2_000))).job;
    const a = (await store.create(newJob('a.mp4'), at(1_000))).job;
    const c1 = (await store.create(newJob('c1.mp4'), at(3_000))).job;
    const c2 = (await store.create(newJob('c2.mp4'), at(3_000))).job;
    const future = (await store.create(newJob('future.mp4'), at(60_000))).job;
    const now = at(10_000);
    const token = 'plain-lease-token-1234567890';
    const first = await store.claimNext(token, LEASE_MS, now);
    assert.equal(first?.id, a.id);
    assert.equal(first?.status, 'PROGRESSING');
    assert.equal(first?.attempts, 1);
    assert.equal(first?.leaseHash, hashLeaseToken(token));
    assert.equal(first?.leaseUntil, new Date(now.getTime() + LEASE_MS).toISOString());
    assert.deepEqual(await store.get(a.id), first);
    assert.equal(await db.jobsContain(token), false, 'the plain token is not stored');
    assert.equal(await db.jobsContain(hashLeaseToken(token)), true);
    assert.equal((await store.claimNext('t2', LEASE_MS, now))?.id, b.id);
    assert.equal((await store.claimNext('t3', LEASE_MS, now))?.id, c1.id);
    assert.equal((await store.claimNext('t4', LEASE_MS, now))?.id, c2.id);
    assert.equal(await store.claimNext('t5', LEASE_MS, now), null, 'the future job waits');

    // A retried job waits out its backoff even though it is the oldest SUBMITTED job.
    await store.transition(b.id, fail('t2', true, 30_000), at(11_000));
    assert.equal(await store.claimNext('t6', LEASE_MS, at(40_999)), null);
    assert.equal((await store.claimNext('t7', LEASE_MS, at(41_000)))?.id, b.id);
    assert.equal((await store.claimNext('t8', LEASE_MS, at(60_000)))?.id, future.id);
  });

  test(`${name}: expiredLeases(now) lists PROGRESSING jobs whose lease ended before now`, async (t) => {
    const db = await open(t);
    const { store } = db;
    const short = (await store.create(newJob('short.mp4'), at(-40))).job;
    const long = (await store.create(newJob('long.mp4'), at(-30))).job;
    const done = (await store.create(newJob('done.mp4'), at(-20))).job;
    await store.create(newJob('queued.mp4'), at(-10));
    await store.claimNext('t-short', 30_000, at(0));
    await store.claimNext('t-long', 60_000, at(0));
    await store.claimNext('t-done', 10_000, at(0));
    await store.transition(done.id, { type: 'complete', leaseToken: 't-done', outputs: [] }, at(1_000));
    // A finished row with a stale lease: the status filter keeps it out, not just a NULL lease.
    await db.poke(done.id, 'lease_until', at(5_000).toISOString());
    const ids = async (ms: number) => (await store.expiredLeases(at(ms))).map((j) => j.id).sort();
    assert.deepEqual(await ids(30_000), [], 'a lease ending exactly now has not lapsed');
    assert.deepEqual(await ids(45_000), [short.id]);
    assert.deepEqual(await ids(120_000), [short.id, long.id].sort());
    await store.transition(long.id, { type: 'start', leaseToken: 't-long', leaseMs: 300_000 }, at(50_000));
    assert.deepEqual(await ids(120_000), [short.id], 'a renewed lease is not expired');
  });

  test(`${name}: countByStatus() counts each status`, async (t) => {
    const { store } = await open(t);
    for (let i = 0; i < 6; i++) await store.create(newJob(`j${i}.mp4`), at(i));
    await store.claimNext('p', LEASE_MS, at(10));
    const c = await store.claimNext('c', LEASE_MS, at(10));
    await store.transition(c?.id ?? '', { type: 'complete', leaseToken: 'c', outputs: [] }, at(20));
    const e = await store.claimNext('e', LEASE_MS, at(10));
    await store.transition(e?.id ?? '', fail('e', false), at(20));
    const x = (await store.list({ status: 'SUBMITTED', limit: 1 }))[0];
    await store.transition(x?.id ?? '', { type: 'cancel', reason: 'x' }, at(30));
    const counts = await Promise.all(
      (['SUBMITTED', 'PROGRESSING', 'COMPLETE', 'ERROR', 'CANCELED'] as const).map((s) =>
        store.countByStatus(s),
      ),
    );
    assert.deepEqual(counts, [2, 1, 1, 1, 1]);
  });

  test(`${name}: a job round-trips every field unchanged`, async (t) => {
    const { store } = await open(t);
    const created = await store.create(
      newJob('deep/path/clip ü.mov', {
        pipeline: 'fan-out-1',
        input: { bucket: 'source', key: 'deep/path/clip ü.mov', size: 987_654_321, etag: '3b9aca0-5f1e' },
        destination: { bucket: 'output', prefix: 'deep/path/clip ü' },
        userMetadata: { customer: 'ACME', note: 'ünïcödé "quoted" \n newline', empty: '' },
        maxAttempts: 7,
        limitsLowered: ['maxJobSeconds'],
      }),
      T0,
    );
    assert.deepEqual(await store.get(created.job.id), created.job);
    assert.deepEqual((await store.events(created.job.id))[0]?.data.limitsLowered, ['maxJobSeconds']);
    const inputMedia = {
      container: 'mov,mp4',
      durationSeconds: 12.345,
      sizeBytes: 987_654_321,
      bitRate: 4_500_000,
      video: { codec: 'h264', width: 1920, height: 1080, frameRate: 29.97, hdr: false },
      audio: null,
      streamCount: 1,
    } as unknown as MediaInfo;
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
        stderrTail: 'frame=  100 fps= 60',
      },
      at(2_000),
    );
    assert.deepEqual(await store.get(created.job.id), mid);
    const outputs: JobOutput[] = [
      { type: 'rendition', bucket: 'output', key: 'x/720p', analysis: { peak: 3_100_000.5, note: null } },
    ];
    const done = await store.transition(
      created.job.id,
      { type: 'complete', leaseToken: 'tok', outputs, stderrTail: 'done' },
      at(3_000),
    );
    assert.deepEqual(await store.get(created.job.id), done);
    assert.deepEqual(done.outputs, outputs);
  });

  test(`${name}: skip records count versions, not reports, newest first within the limit`, async (t) => {
    const { store } = await open(t);
    const n = (
      key: string,
      version: string | null,
      reason: SkipNotice['reason'] = 'INVALID_SETTINGS',
    ): SkipNotice => ({
      bucket: 'source',
      key,
      reason,
      version,
      message: `bad ${version}`,
    });
    await store.recordSkip(n('jobs/a.json', 'v1'), at(0));
    await store.recordSkip(n('jobs/a.json', 'v1'), at(1_000));
    await store.recordSkip(n('jobs/b.json', 'v1'), at(2_000));
    await store.recordSkip(n('jobs/a.json', 'v2'), at(3_000));
    await store.recordSkip(n('x.part', null, 'TEMP_NAME'), at(3_000));
    await store.recordSkip(n('x.part', null, 'TEMP_NAME'), at(4_000));
    const recs = await store.listSkipped(10);
    assert.deepEqual(
      recs.map((r) => [r.key, r.reason, r.count, r.version, r.message]),
      [
        ['x.part', 'TEMP_NAME', 1, null, 'bad null'],
        ['jobs/a.json', 'INVALID_SETTINGS', 2, 'v2', 'bad v2'],
        ['jobs/b.json', 'INVALID_SETTINGS', 1, 'v1', 'bad v1'],
      ],
    );
    assert.equal(recs[1]?.firstSeenAt, at(0).toISOString());
    assert.equal(recs[1]?.lastSeenAt, at(3_000).toISOString());
    assert.equal(
      recs[0]?.lastSeenAt,
      at(3_000).toISOString(),
      'the same (null) version again changes nothing',
    );
    assert.equal((await store.listSkipped(1)).length, 1);
  });

  test(`${name}: worker tokens are created, listed, found by hash, touched and revoked`, async (t) => {
    const { store } = await open(t);
    const h1 = hashLeaseToken('secret-1');
    const h2 = hashLeaseToken('secret-2');
    const a = await store.createWorkerToken({ id: 'wt_a', pool: 'spot', label: 'rack 1', hash: h1 }, at(0));
    assert.deepEqual(a, {
      id: 'wt_a',
      pool: 'spot',
      label: 'rack 1',
      createdAt: at(0).toISOString(),
      revokedAt: null,
      lastUsedAt: null,
    });
    const b = await store.createWorkerToken({ id: 'wt_b', pool: 'on-demand', label: null, hash: h2 }, at(0));
    await assert.rejects(
      store.createWorkerToken({ id: 'wt_c', pool: 'spot', label: null, hash: h1 }, at(1)),
      'one hash, one token',
    );
    assert.deepEqual(await store.listWorkerTokens(), [a, b], 'oldest first, insertion breaking ties');
    assert.deepEqual(await store.findWorkerTokenByHash(h2), b);
    assert.equal(await store.findWorkerTokenByHash(hashLeaseToken('nope')), null);
    await store.touchWorkerToken('wt_a', at(5_000));
    assert.equal((await store.findWorkerTokenByHash(h1))?.lastUsedAt, at(5_000).toISOString());
    const revoked = await store.revokeWorkerToken('wt_a', at(6_000));
    assert.equal(revoked?.revokedAt, at(6_000).toISOString());
    assert.equal(
      (await store.revokeWorkerToken('wt_a', at(7_000)))?.revokedAt,
      at(6_000).toISOString(),
      'first revocation kept',
    );
    assert.equal(
      (await store.findWorkerTokenByHash(h1))?.revokedAt,
      at(6_000).toISOString(),
      'found, revoked',
    );
    assert.equal(await store.revokeWorkerToken('wt_unknown', at(8_000)), null);
  });

  test(`${name}: onWork wakes on create, retry, put back and release; not on claim or heartbeat`, async (t) => {
    const db = await open(t);
    const { store } = db;
    const w = wakes(store);
    t.after(() => w.off());
    await listening(store);
    const step = async (what: string, fn: () => Promise<unknown>) => {
      const woken = w.next(what);
      await fn();
      await woken;
    };
    let id = '';
    await step('create', async () => {
      id = (await store.create(newJob('a.mp4'), T0)).job.id;
    });
    await step('a retryable failure (put back)', async () => {
      await store.claimNext('t1', LEASE_MS, at(1));
      await store.transition(id, fail('t1', true, 5_000), at(2));
    });
    await step('release', async () => {
      await store.claimNext('t2', LEASE_MS, at(10_000));
      await store.transition(id, { type: 'release', reason: 'shutdown', retryDelayMs: 0 }, at(10_001));
    });
    await step('retry of a finished job', async () => {
      await store.claimNext('t3', LEASE_MS, at(20_000));
      await store.transition(id, fail('t3', false), at(20_001));
      await store.transition(id, { type: 'retry', reason: 'again' }, at(20_002));
    });
    // Claim, heartbeat and complete make nothing claimable: a marker create afterwards must be the
    // first wake-up seen (wake-ups arrive in commit order on one channel).
    const before = w.calls();
    await store.claimNext('t4', LEASE_MS, at(30_000));
    await store.transition(id, { type: 'heartbeat', leaseToken: 't4', leaseMs: LEASE_MS }, at(30_001));
    await store.transition(id, { type: 'complete', leaseToken: 't4', outputs: [] }, at(30_002));
    await step('marker create', () => store.create(newJob('marker.mp4'), at(30_003)));
    assert.equal(w.calls(), before + 1, 'claim, heartbeat and complete woke nobody');

    if (factory.peersAreConnections) {
      // Another control plane's new job wakes this one.
      const other = await db.peer();
      await step('a create on another connection', () => other.create(newJob('b.mp4'), at(40_000)));
    }
    w.off();
    const after = w.calls();
    // The unsubscribed listener is not called: a second listener sees the wake-up it would have seen.
    const w2 = wakes(store);
    const woken = w2.next('create after unsubscribe');
    await store.create(newJob('c.mp4'), at(50_000));
    await woken;
    w2.off();
    assert.equal(w.calls(), after, 'an unsubscribed listener is not called');
  });

  test(`${name}: 8 stores claiming from 50 jobs at once never get the same job; each is claimed once`, async (t) => {
    const db = await open(t);
    for (let i = 0; i < 50; i++)
      await db.store.create(newJob(`job-${String(i).padStart(2, '0')}.mp4`), at(i));
    const peers = [db.store, ...(await Promise.all(Array.from({ length: 7 }, () => db.peer())))];
    const now = at(10_000);
    const got = await Promise.all(
      peers.map(async (p, n) => {
        const mine: { id: string; token: string }[] = [];
        for (let k = 0; ; k++) {
          const token = `claimer-${n}-${k}`;
          const job = await p.claimNext(token, LEASE_MS, now);
          if (!job) return mine;
          mine.push({ id: job.id, token });
        }
      }),
    );
    const all = got.flat();
    assert.equal(all.length, 50, 'every job claimed');
    assert.equal(new Set(all.map((c) => c.id)).size, 50, 'no job handed out twice');
    if (factory.peersAreConnections) {
      assert.ok(
        got.filter((g) => g.length > 0).length > 1,
        'the claims were spread over several connections',
      );
    }
    for (const c of all) {
      const job = await db.store.get(c.id);
      assert.equal(job?.leaseHash, hashLeaseToken(c.token), 'the lease is the claimer’s');
      assert.equal(job?.attempts, 1);
      assert.equal((await db.store.events(c.id)).filter((e) => e.type === 'job:claimed').length, 1);
    }
    assert.equal(await db.store.countByStatus('SUBMITTED'), 0);
  });

  test(`${name}: heartbeats racing a complete on other stores never make the complete fail; no LEASE_LOST while the lease holds`, async (t) => {
    const db = await open(t);
    const peers = [db.store, ...(await Promise.all(Array.from({ length: 5 }, () => db.peer())))];
    const outputs: JobOutput[] = [{ type: 'hls', bucket: 'output', key: 'k/master.m3u8' }];
    for (let round = 0; round < 10; round++) {
      const { job } = await db.store.create(newJob(`race-${round}.mp4`), at(round));
      const token = `lease-${round}`;
      await db.store.claimNext(token, LEASE_MS, at(1_000));
      const hb = (p: ContractStore, i: number) =>
        p
          .transition(
            job.id,
            { type: 'heartbeat', leaseToken: token, leaseMs: LEASE_MS, progress: { percent: i } },
            at(2_000 + i),
          )
          .then(
            () => 'ok',
            (err: unknown) => codeOf(err),
          );
      // Heartbeats alone, from five stores at once: each lands or is a (retryable) conflict.
      const beats = await Promise.all(peers.slice(1).map((p, i) => hb(p, i)));
      for (const b of beats) assert.ok(['ok', 'VERSION_CONFLICT'].includes(b), `a heartbeat got ${b}`);
      // Then heartbeats racing the complete.
      const [done, ...racing] = await Promise.all([
        (peers[0] as ContractStore).transition(
          job.id,
          { type: 'complete', leaseToken: token, outputs },
          at(3_000),
        ),
        ...peers.slice(1).map((p, i) => hb(p, 10 + i)),
      ]);
      assert.equal(done.status, 'COMPLETE', 'the complete always lands');
      for (const r of racing) {
        // A heartbeat that was ordered after the complete finds the attempt over (the same answer as a
        // heartbeat sent after it); one ordered before lands; none makes the complete fail.
        assert.ok(['ok', 'VERSION_CONFLICT', 'LEASE_LOST'].includes(r), `a racing heartbeat got ${r}`);
      }
      const stored = await db.store.get(job.id);
      assert.equal(stored?.status, 'COMPLETE');
      assert.deepEqual(stored?.outputs, outputs);
    }
  });
}
