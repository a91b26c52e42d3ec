// GET /v1/jobs/counts: how many jobs are in each status, and the pipeline names a filter can offer (the
// configured ones, then any others jobs carry: `api` for POST /v1/jobs, a pipeline since removed from
// the configuration). One grouped count, not a scan of the jobs.
import type { FastifyInstance } from 'fastify';
import { JOB_STATUSES, type JobStatus } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';

export function registerJobCountsRoute(
  app: FastifyInstance,
  deps: { store: JobStore; pipelines: string[] },
): void {
  app.get('/v1/jobs/counts', async () => {
    const rows = await deps.store.countByStatusAndPipeline();
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const seen = new Set<string>();
    for (const r of rows) {
      counts[r.status] += r.jobs;
      seen.add(r.pipeline);
    }
    const configured = [...new Set(deps.pipelines)];
    const others = [...seen].filter((p) => !configured.includes(p)).sort();
    return { counts, pipelines: [...configured, ...others] };
  });
}
