// `GET /v1/pools` and `GET /v1/pools/:pool`: each capacity pool's demand, for people (the CLI, the
// console) and for autoscalers (KEDA's metrics-api trigger reads `demand` from the second route: a worker
// Deployment scaled on it runs one worker per job the pool could be running now).
//   queued              SUBMITTED, runnable now, and offered to this pool now (the pool-offer rule)
//   waitingForCapacity  of those, the ones a launcher last refused (phase WAITING_FOR_CAPACITY)
//   running             PROGRESSING on this pool
//   demand              queued + running
// A job offered to several pools counts in each: whichever claims it first runs it.
import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import { type Job, WAITING_FOR_CAPACITY } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { DEFAULT_POOLS, type PoolSettings, poolMayClaim } from '../jobs/pool-offer.ts';

/** The most jobs of one status read per request (a queue deeper than this is reported as this deep). */
export const SCAN_LIMIT = 10_000;

export interface PoolDemand {
  pool: string;
  queued: number;
  waitingForCapacity: number;
  running: number;
  demand: number;
}

export async function poolDemand(store: JobStore, s: PoolSettings, now: Date): Promise<PoolDemand[]> {
  const [submitted, progressing] = await Promise.all([
    store.list({ status: 'SUBMITTED', limit: SCAN_LIMIT }),
    store.list({ status: 'PROGRESSING', limit: SCAN_LIMIT }),
  ]);
  return poolDemandOf(submitted, progressing, s, now);
}

/** Each pool's demand from the SUBMITTED and PROGRESSING jobs (pure). */
export function poolDemandOf(submitted: Job[], progressing: Job[], s: PoolSettings, now: Date): PoolDemand[] {
  const runnable = submitted.filter((j) => Date.parse(j.runAfter) <= now.getTime());
  return s.pools.map((pool) => {
    const offered = runnable.filter((j) => poolMayClaim(s, pool, j, now));
    const queued = offered.length;
    const running = progressing.filter((j) => j.pool === pool).length;
    return {
      pool,
      queued,
      waitingForCapacity: offered.filter((j) => j.phase === WAITING_FOR_CAPACITY).length,
      running,
      demand: queued + running,
    };
  });
}

export function registerPoolRoutes(
  app: FastifyInstance,
  store: JobStore,
  pools: PoolSettings = DEFAULT_POOLS,
) {
  app.get('/v1/pools', async () => ({ pools: await poolDemand(store, pools, new Date()) }));
  app.get<{ Params: { pool: string } }>('/v1/pools/:pool', async (req) => {
    const found = (await poolDemand(store, pools, new Date())).find((p) => p.pool === req.params.pool);
    if (!found) {
      throw new SluiceError(
        'POOL_UNKNOWN',
        `no capacity pool "${req.params.pool}"; this server's pools are ${pools.pools.join(', ')} (SLUICE_POOLS)`,
      );
    }
    return found;
  });
}
