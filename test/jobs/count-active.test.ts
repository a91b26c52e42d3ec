// countActive() (the queue depth and running jobs of GET /metrics) on a real SQLite file and on the
// machine's PostgreSQL: queued jobs count under the last pool their offer reached (pool-offer.ts: the
// fallback wait and preemptions), running ones under their attempt's pool, per pipeline, and the result
// agrees with the pool rule applied job by job.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import type { ActiveJobCount, JobStore } from '../../src/jobs/job-store.ts';
import { lastEligiblePool, type PoolSettings } from '../../src/jobs/pool-offer.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const POOLS: PoolSettings = {
  pools: ['spot', 'on-demand', 'reserve'],
  fallbackMs: 60_000,
  preemptionsPerPool: 1,
};

function newJob(key: string, pipeline = 'default'): NewJob {
  return {
    pipeline,
    input: { bucket: 'source', key, size: 1, etag: `e-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key },
    userMetadata: {},
    idempotencyKey: `${pipeline}|source|${key}|e-${key}`,
  };
}

type TestContext = { after: (fn: () => Promise<void>) => void };
const KINDS: { name: string; open: (t: TestContext, pools: PoolSettings) => Promise<{ store: JobStore }> }[] =
  [
    {
      name: 'SqliteJobStore',
      open: async (t, pools) => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-active-'));
        const store = new SqliteJobStore(path.join(dir, 'sluice.db'), pools);
        t.after(async () => {
          await store.close();
          await fs.rm(dir, { recursive: true, force: true });
        });
        await store.migrate();
        return { store };
      },
    },
    {
      name: 'PostgresJobStore',
      open: async (t, pools) => {
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

const sorted = (c: ActiveJobCount[]) =>
  [...c].sort((a, b) =>
    `${a.status}${a.pipeline}${a.pool}`.localeCompare(`${b.status}${b.pipeline}${b.pool}`),
  );

for (const kind of KINDS) {
  test(`${kind.name}: countActive groups queued jobs by the pool their offer reached, running by their pool`, async (t) => {
    const { store } = await kind.open(t, POOLS);
    const runner = (await store.create(newJob('running'), at(0))).job;
    const preempted = (await store.create(newJob('preempted'), at(0))).job;
    // One claimed on spot and running; one preempted on spot (its offer starts again past spot).
    assert.equal((await store.claimNext('tok-run', 30_000, at(1000), { pool: 'spot' }))?.id, runner.id);
    const claimed = await store.claimNext('tok-pre', 30_000, at(1000), { pool: 'spot' });
    assert.equal(claimed?.id, preempted.id);
    await store.transition(
      preempted.id,
      { type: 'preempt', leaseToken: 'tok-pre', reason: 'PREEMPTED' },
      at(155_000),
    );
    // Made at T0, T0+30 s, T0+90 s and T0+150 s: at T0+160 s they have waited 2+, 2, 1 and 0 fallbacks.
    for (const [i, ms] of [0, 30_000, 90_000, 150_000].entries()) {
      await store.create(newJob(`k${i}`, i === 3 ? 'second' : 'default'), at(ms));
    }

    const now = at(160_000);
    const counts = await store.countActive(now);
    // The rule applied job by job, from the jobs as stored.
    const expected = new Map<string, ActiveJobCount>();
    for (const j of await store.list({ limit: 100 })) {
      if (j.status !== 'SUBMITTED' && j.status !== 'PROGRESSING') continue;
      const pool =
        j.status === 'SUBMITTED'
          ? (POOLS.pools[lastEligiblePool(POOLS, j, now)] as string)
          : (j.pool ?? 'any');
      const key = `${j.status}/${j.pipeline}/${pool}`;
      const c = expected.get(key) ?? { status: j.status, pipeline: j.pipeline, pool, jobs: 0 };
      c.jobs++;
      expected.set(key, c);
    }
    assert.deepEqual(sorted(counts), sorted([...expected.values()]));
    // And spelled out: k0 (160 s, capped at the last pool) and k1 (130 s) reached reserve, k2 (70 s)
    // on-demand, the preempted job on-demand (a new offer 5 s ago, past spot), k3 (10 s) spot.
    assert.deepEqual(sorted(counts), [
      { status: 'PROGRESSING', pipeline: 'default', pool: 'spot', jobs: 1 },
      { status: 'SUBMITTED', pipeline: 'default', pool: 'on-demand', jobs: 2 },
      { status: 'SUBMITTED', pipeline: 'default', pool: 'reserve', jobs: 2 },
      { status: 'SUBMITTED', pipeline: 'second', pool: 'spot', jobs: 1 },
    ]);
  });

  test(`${kind.name}: countActive with one pool and with no fallback wait`, async (t) => {
    const one = await kind.open(t, { pools: ['local'], fallbackMs: 60_000, preemptionsPerPool: 1 });
    await one.store.create(newJob('a'), at(0));
    await one.store.claimNext('tok', 30_000, at(0)); // a claim naming no pool
    await one.store.create(newJob('b'), at(0));
    assert.deepEqual(sorted(await one.store.countActive(at(1_000_000))), [
      { status: 'PROGRESSING', pipeline: 'default', pool: 'any', jobs: 1 },
      { status: 'SUBMITTED', pipeline: 'default', pool: 'local', jobs: 1 },
    ]);
    const now = await kind.open(t, { pools: ['spot', 'on-demand'], fallbackMs: 0, preemptionsPerPool: 1 });
    await now.store.create(newJob('c'), at(0));
    assert.deepEqual(await now.store.countActive(at(0)), [
      { status: 'SUBMITTED', pipeline: 'default', pool: 'on-demand', jobs: 1 },
    ]);
  });
}
