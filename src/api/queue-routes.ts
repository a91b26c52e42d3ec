// GET /v1/queue: the queued jobs in the order they will be claimed (priority, highest first, then the
// oldest; what claimNext does), and each capacity pool with its demand (pool-routes.ts), the jobs it is
// running and the remote workers whose tokens belong to it. Jobs waiting for a retry's backoff are not
// yet in the queue (run_after in the future).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { JobStore } from '../jobs/job-store.ts';
import { DEFAULT_POOLS, type PoolSettings } from '../jobs/pool-offer.ts';
import type { WorkerTokenStore } from '../jobs/worker-token-store.ts';
import { type JobView, jobView } from './job-view.ts';
import { poolDemandOf, SCAN_LIMIT } from './pool-routes.ts';
import { parseBody } from './validate.ts';

export const QueueQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerQueueRoutes(
  app: FastifyInstance,
  deps: { store: JobStore; pools?: PoolSettings; workerTokens?: WorkerTokenStore },
): void {
  const pools = deps.pools ?? DEFAULT_POOLS;
  app.get('/v1/queue', async (req) => {
    const { limit } = parseBody(QueueQuery, req.query, 'query');
    const now = new Date();
    // The front of the queue from the store in claim order (however deep the queue); the pools' counts
    // from one read of each status, as GET /v1/pools reads them.
    const [front, submitted, progressing, tokens] = await Promise.all([
      deps.store.listQueued(now, limit),
      deps.store.list({ status: 'SUBMITTED', limit: SCAN_LIMIT }),
      deps.store.list({ status: 'PROGRESSING', limit: SCAN_LIMIT }),
      deps.workerTokens ? deps.workerTokens.listWorkerTokens() : Promise.resolve([]),
    ]);
    const demand = poolDemandOf(submitted, progressing, pools, now);
    const jobs: (JobView & { position: number })[] = front.map((job, i) => ({
      ...jobView(job, pools, now),
      position: i + 1,
    }));
    return {
      jobs,
      pools: demand.map((d) => ({
        ...d,
        runningJobs: progressing
          .filter((j) => j.pool === d.pool)
          .map((j) => ({ id: j.id, key: j.input.key, phase: j.phase, percent: j.progress.percent })),
        workers: tokens
          .filter((t) => t.pool === d.pool)
          .map((t) => ({ id: t.id, label: t.label, lastUsedAt: t.lastUsedAt, revokedAt: t.revokedAt })),
      })),
    };
  });
}
