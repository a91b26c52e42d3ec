// Each capacity pool's demand (GET /v1/pools, what an autoscaler reads), on a real SQLite store: a new
// job counts for the first pool only, the fallback wait opens the next pool too, a delayed retry counts
// nowhere until it is due, a running job counts for the pool that runs it, and an unknown pool is refused.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { poolDemand } from '../../src/api/pool-routes.ts';
import type { NewJob } from '../../src/jobs/job.ts';
import type { PoolSettings } from '../../src/jobs/pool-offer.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { buildTestApi } from './test-api.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
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

test('pool demand: first pool first, the next after the wait, running jobs where they run', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-demand-'));
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'), POOLS);
  t.after(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  await store.migrate();
  const t0 = new Date();
  const at = (ms: number) => new Date(t0.getTime() + ms);
  const byPool = async (now: Date) =>
    Object.fromEntries((await poolDemand(store, POOLS, now)).map((p) => [p.pool, p]));

  for (const k of ['a', 'b', 'c']) await store.create(newJob(`${k}.mp4`), t0);
  let d = await byPool(at(1000));
  assert.deepEqual(
    [d.spot?.queued, d.spot?.running, d.spot?.demand, d['on-demand']?.demand],
    [3, 0, 3, 0],
    'new jobs are offered to spot alone',
  );

  const running = await store.claimNext('lease-1', 30_000, at(2000), { pool: 'spot' });
  assert.ok(running);
  d = await byPool(at(3000));
  assert.deepEqual([d.spot?.queued, d.spot?.running, d.spot?.demand], [2, 1, 3]);

  // After the fallback wait the two queued jobs are offered to on-demand as well.
  d = await byPool(at(61_000));
  assert.deepEqual(
    [d.spot?.queued, d['on-demand']?.queued, d['on-demand']?.running, d['on-demand']?.demand],
    [2, 2, 0, 2],
  );
  assert.ok((await poolDemand(store, POOLS, at(61_000))).every((p) => p.waitingForCapacity === 0));
});

test('GET /v1/pools and /v1/pools/:pool answer JSON; an unknown pool is POOL_UNKNOWN', async (t) => {
  const { app } = await buildTestApi(t);
  const all = await app.inject({ method: 'GET', url: '/v1/pools' });
  assert.equal(all.statusCode, 200);
  const pools = (all.json() as { pools: { pool: string; demand: number }[] }).pools;
  assert.deepEqual(
    pools.map((p) => [p.pool, p.demand]),
    [['local', 0]],
  );
  const one = await app.inject({ method: 'GET', url: '/v1/pools/local' });
  assert.deepEqual(one.json(), { pool: 'local', queued: 0, waitingForCapacity: 0, running: 0, demand: 0 });
  const unknown = await app.inject({ method: 'GET', url: '/v1/pools/nope' });
  assert.equal(unknown.statusCode, 400);
  assert.equal((unknown.json() as { code: string }).code, 'POOL_UNKNOWN');
});
