// GET /v1/jobs/counts: how many jobs are in each status, and the pipeline names a filter can offer (the
// configured ones, then any others jobs carry: `api` for POST /v1/jobs, a pipeline since removed from
// the configuration). `byPipeline` has the same counts per pipeline (which pipelines have ERROR jobs to
// retry). One grouped count, not a scan of the jobs.
import type { FastifyInstance } from 'fastify';
import { JOB_STATUSES, type JobStatus } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';

export function registerJobCountsRoute(
  app: FastifyInstance,
  deps: { store: JobStore; pipelines: string[] },
): void {
  app.get('/v1/jobs/counts', async () => {
    const rows = await deps.store.countByStatusAndPipeline();
    const zero = () => Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    const counts = zero();
    const byPipeline = new Map<string, Record<JobStatus, number>>();
    for (const r of rows) {
      counts[r.status] += r.jobs;
      const own = byPipeline.get(r.pipeline) ?? zero();
      own[r.status] += r.jobs;
      byPipeline.set(r.pipeline, own);
    }
    const configured = [...new Set(deps.pipelines)];
    const others = [...byPipeline.keys()].filter((p) => !configured.includes(p)).sort();
    const pipelines = [...configured, ...others];
    return {
      counts,
      pipelines,
      byPipeline: Object.fromEntries(pipelines.map((p) => [p, byPipeline.get(p) ?? zero()])),
    };
  });
}
