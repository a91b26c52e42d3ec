// claimNext() with capacity pools on a real SQLite file and on the machine's PostgreSQL: a pool claims only what it may take now
// (pool-offer.ts), the pool is recorded on the attempt, a preemption hands the job back uncharged and
// moves its offer on, and a claim with no pool behaves as before pools.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SluiceError } from '../../src/errors.ts';
import type { NewJob } from '../../src/jobs/job.ts';
import type { PoolSettings } from '../../src/jobs/pool-offer.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { MIGRATIONS, SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE_MS = 30_000;
const POOLS: PoolSettings = { pools: ['spot', 'on-demand'], fallbackMs: 60_000, preemptionsPerPool: 1 };

function newJob(key: string): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1, etag: `e-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|e-${key}`,
  };
}

async function storeOf(t: { after: (fn: () => Promise<void>) => void }, pools = POOLS) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-pools-'));
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'), pools);
  t.after(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  await store.migrate();
  return { store, file: path.join(dir, 'sluice.db') };
}
const KINDS = [
  { name: 'SqliteJobStore', storeOf },
  {
    name: 'PostgresJobStore',
    storeOf: async (t: { after: (fn: () => Promise<void>) => void }, pools = POOLS) => {
      await requirePostgres();
      let store: PostgresJobStore | null = null;
      const schema = freshSchema(t, async () => {
        await store?.close();
      });
      store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, pools });
      await store.migrate();
      return { store };
    },
  },
];

// The same cases on both stores: PostgreSQL puts the pool rule in the claim's WHERE, SQLite in code.
for (const kind of KINDS) {
  test(`${kind.name}: a new job is claimed by the first pool; the second pool gets it only after the fallback wait`, async (t) => {
    const { store } = await kind.storeOf(t);
    const { job } = await store.create(newJob('a.mp4'), T0);
    assert.equal(await store.claimNext('od-early', LEASE_MS, at(59_999), { pool: 'on-demand' }), null);
    const late = await store.claimNext('od-late', LEASE_MS, at(60_000), { pool: 'on-demand' });
    assert.equal(late?.id, job.id);
    assert.equal(late?.pool, 'on-demand');
    const claimed = (await store.events(job.id)).find((e) => e.type === 'job:claimed');
    assert.deepEqual(claimed?.data, { attempt: 1, pool: 'on-demand' });
  });

  test(`${kind.name}: the first pool skips a job the wait has not opened to it... and takes the older one it may`, async (t) => {
    const { store } = await kind.storeOf(t);
    const old = (await store.create(newJob('old.mp4'), T0)).job;
    const young = (await store.create(newJob('young.mp4'), at(50_000))).job;
    // At 70 s: the old job is open to on-demand, the young one is not yet.
    const first = await store.claimNext('t1', LEASE_MS, at(70_000), { pool: 'on-demand' });
    assert.equal(first?.id, old.id);
    assert.equal(await store.claimNext('t2', LEASE_MS, at(70_000), { pool: 'on-demand' }), null);
    const spot = await store.claimNext('t3', LEASE_MS, at(70_000), { pool: 'spot' });
    assert.equal(spot?.id, young.id);
  });

  test(`${kind.name}: a preemption hands the job back uncharged, and its next offer skips the pool that preempted it`, async (t) => {
    const { store } = await kind.storeOf(t);
    const { job } = await store.create(newJob('p.mp4'), T0);
    const claimed = await store.claimNext('lease-1', LEASE_MS, at(1000), { pool: 'spot' });
    assert.equal(claimed?.attempts, 1);
    await store.transition(job.id, { type: 'start', leaseToken: 'lease-1', leaseMs: LEASE_MS }, at(1100));
    const back = await store.transition(
      job.id,
      { type: 'preempt', leaseToken: 'lease-1', reason: 'PREEMPTED' },
      at(2000),
    );
    assert.equal(back.status, 'SUBMITTED');
    assert.equal(back.attempts, 0, 'not charged');
    assert.equal(back.preemptions, 1);
    assert.equal(back.leaseHash, null);
    assert.equal(
      await store.claimNext('lease-2', LEASE_MS, at(2000), { pool: 'spot' }),
      null,
      'not spot again',
    );
    const next = await store.claimNext('lease-3', LEASE_MS, at(2000), { pool: 'on-demand' });
    assert.equal(next?.attempts, 1);
    assert.equal(next?.pool, 'on-demand');
    const preempted = (await store.events(job.id)).find((e) => e.type === 'job:preempted');
    assert.deepEqual(preempted?.data, { reason: 'PREEMPTED', attempt: 1, pool: 'spot', preemptions: 1 });
    // A stale token cannot hand back the newer attempt.
    await assert.rejects(
      store.transition(job.id, { type: 'preempt', leaseToken: 'lease-1', reason: 'PREEMPTED' }, at(3000)),
      (e: unknown) => e instanceof SluiceError && e.code === 'LEASE_LOST',
    );
  });

  test(`${kind.name}: a claim with no pool takes any runnable job, as before pools; an unknown pool is POOL_UNKNOWN`, async (t) => {
    const { store } = await kind.storeOf(t);
    const { job } = await store.create(newJob('any.mp4'), T0);
    await store.transition(
      job.id,
      { type: 'claim', leaseToken: 'x', leaseMs: LEASE_MS, pool: 'spot' },
      at(1),
    );
    await store.transition(job.id, { type: 'preempt', leaseToken: 'x', reason: 'PREEMPTED' }, at(2));
    await store.transition(job.id, { type: 'claim', leaseToken: 'y', leaseMs: LEASE_MS }, at(3));
    await store.transition(job.id, { type: 'preempt', leaseToken: 'y', reason: 'PREEMPTED' }, at(4));
    const any = await store.claimNext('z', LEASE_MS, at(5));
    assert.equal(any?.id, job.id);
    assert.equal(any?.pool, null);
    await assert.rejects(
      store.claimNext('w', LEASE_MS, at(6), { pool: 'gpu' }),
      (e: unknown) => e instanceof SluiceError && e.code === 'POOL_UNKNOWN',
    );
  });

  test(`${kind.name}: a launch refused for capacity: the job waits in WAITING_FOR_CAPACITY, uncharged, its fallback wait still running`, async (t) => {
    const { store } = await kind.storeOf(t);
    const { job } = await store.create(newJob('w.mp4'), T0);
    await store.claimNext('r', LEASE_MS, at(1000), { pool: 'spot' });
    const waiting = await store.transition(
      job.id,
      { type: 'release', reason: 'CAPACITY_UNAVAILABLE: no', retryDelayMs: 0, waitingForCapacity: true },
      at(1000),
    );
    assert.equal(waiting.status, 'SUBMITTED');
    assert.equal(waiting.phase, 'WAITING_FOR_CAPACITY');
    assert.equal(waiting.attempts, 0);
    assert.equal(waiting.offeredAt, T0.toISOString(), 'the offer did not start over');
    const od = await store.claimNext('od', LEASE_MS, at(60_000), { pool: 'on-demand' });
    assert.equal(od?.phase, null, 'a claim clears the waiting phase');
  });

  test(`${kind.name}: many runnable jobs no pool may take yet do not hide one it may (claims scan past a batch)`, async (t) => {
    const { store } = await kind.storeOf(t);
    for (let i = 0; i < 450; i++) {
      const { job } = await store.create(newJob(`busy-${i}.mp4`), at(i));
      await store.transition(
        job.id,
        { type: 'claim', leaseToken: `b${i}`, leaseMs: LEASE_MS, pool: 'spot' },
        at(i),
      );
      await store.transition(job.id, { type: 'preempt', leaseToken: `b${i}`, reason: 'PREEMPTED' }, at(i));
    }
    const fresh = (await store.create(newJob('fresh.mp4'), at(500))).job;
    const got = await store.claimNext('s', LEASE_MS, at(600), { pool: 'spot' });
    assert.equal(got?.id, fresh.id, 'spot skips the 450 preempted jobs and finds the one it may take');
  });
}

test('the pool migration is appended: a database of the previous version gets the columns, offeredAt from runAfter', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-pools-mig-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sluice.db');
  // The pool migrations, wherever later ones append theirs.
  const before = MIGRATIONS.indexOf('ALTER TABLE jobs ADD COLUMN pool TEXT');
  assert.ok(before > 0);
  {
    const old = new SqliteJobStore(file);
    await old.migrate();
    await old.create(newJob('legacy.mp4'), T0);
    await old.close();
  }
  // Roll the file back to the pre-pool schema: drop what the pool migrations and every later one added
  // (indexes first: a column an index uses cannot be dropped), as a pre-pool server left it.
  const db = new Database(file);
  const later = MIGRATIONS.slice(before);
  for (const m of later)
    for (const [, i] of m.matchAll(/CREATE INDEX (?:IF NOT EXISTS )?(\w+)/g))
      db.exec(`DROP INDEX IF EXISTS ${i}`);
  for (const m of [...later].reverse())
    for (const [, table, c] of m.matchAll(/ALTER TABLE (\w+) ADD COLUMN (\w+)/g))
      db.exec(`ALTER TABLE ${table} DROP COLUMN ${c}`);
  db.pragma(`user_version = ${before}`);
  db.close();
  const store = new SqliteJobStore(file, POOLS);
  t.after(() => store.close());
  await store.migrate();
  const [job] = await store.list({});
  assert.equal(job?.offeredAt, T0.toISOString());
  assert.equal(job?.preemptions, 0);
  assert.equal(job?.pool, null);
  assert.equal((await store.claimNext('m', LEASE_MS, at(1), { pool: 'spot' }))?.id, job?.id);
});
