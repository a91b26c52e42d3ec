// POST /v1/jobs/retry {pipeline}: every ERROR job of one pipeline runs again (the console's "retry all").
// Each job is retried in its own transition, as POST /v1/jobs/:id/retry would: a job that changed since
// it was listed (retried or purged by someone else) is reported in `failed` with its code, and the rest
// go ahead.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toSluiceError } from '../errors.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { JobView } from './job-view.ts';
import { parseBody } from './validate.ts';

/** The most jobs one request retries; past it, send it again. */
export const RETRY_BATCH = 1000;

export const RetryPipeline = z.strictObject({ pipeline: z.string().min(1) });

export function registerJobRetryRoutes(
  app: FastifyInstance,
  deps: {
    store: JobStore;
    view: (job: Awaited<ReturnType<JobStore['transition']>>) => JobView;
    poke: () => void;
  },
): void {
  app.post('/v1/jobs/retry', async (req) => {
    const { pipeline } = parseBody(RetryPipeline, req.body);
    const jobs = await deps.store.list({ status: 'ERROR', pipeline, limit: RETRY_BATCH });
    const retried: JobView[] = [];
    const failed: { id: string; code: string; message: string }[] = [];
    try {
      for (const { id } of jobs) {
        try {
          const job = await deps.store.transition(
            id,
            { type: 'retry', reason: `retried through the API with every ERROR job of pipeline ${pipeline}` },
            new Date(),
          );
          retried.push(deps.view(job));
        } catch (err) {
          const e = toSluiceError(err);
          if (e.code === 'INTERNAL') throw err;
          failed.push({ id, code: e.code, message: e.message });
        }
      }
    } finally {
      // Those retried before a store failure run too.
      if (retried.length > 0) deps.poke();
      req.log.info(
        { pipeline, retried: retried.length, failed: failed.length },
        'pipeline ERROR jobs retried',
      );
    }
    // A full batch: more ERROR jobs may wait; the same request again takes the next ones.
    return { retried, failed, more: jobs.length === RETRY_BATCH };
  });
}
