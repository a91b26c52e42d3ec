// What the API shows of a job: everything but the lease (hash), plus a progress summary. A queued job
// also shows the capacity pools that may take it now (pool-offer.ts); `pool` is its current or last
// attempt's pool.
import type { Job } from '../jobs/job.ts';
import { offeredPools, type PoolSettings } from '../jobs/pool-offer.ts';

export function jobView(job: Job, pools?: PoolSettings, now = new Date()) {
  const { leaseHash: _lease, idempotencyKey: _key, versionGroup: _group, template, ...rest } = job;
  return {
    ...rest,
    template: { name: job.templateName, settings: template },
    ...(pools && job.status === 'SUBMITTED' ? { offeredTo: offeredPools(pools, job, now) } : {}),
  };
}
export type JobView = ReturnType<typeof jobView>;
