// Inputs: the jobs one object version made (one per matching pipeline: the fan-out), shown together with
// an aggregate status (input-group.ts). GET /v1/inputs/:id shows one; GET /v1/inputs lists the inputs of
// the most recent jobs, newest first.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { aggregateStatus, INPUT_ID } from '../jobs/input-group.ts';
import { JOB_STATUSES, type Job, type JobStatus } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { parseBody } from './validate.ts';

/** How many recent jobs GET /v1/inputs groups into inputs (a bounded read, whatever the table holds). */
const RECENT_JOBS = 500;

export const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** One job of an input: what a user follows of the fan-out (the whole job is GET /v1/jobs/:id). */
function inputJob(j: Job) {
  return {
    id: j.id,
    pipeline: j.pipeline,
    template: j.templateName,
    status: j.status,
    phase: j.phase,
    percent: j.progress.percent,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    destination: j.destination,
    outputs: j.outputs,
    error: j.error,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}

export function inputView(inputId: string, jobs: Job[]) {
  const first = jobs[0];
  if (!first) throw new SluiceError('INPUT_NOT_FOUND', `no input with id ${inputId}`);
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const j of jobs) counts[j.status]++;
  return {
    id: inputId,
    input: first.input,
    status: aggregateStatus(jobs.map((j) => j.status)),
    counts,
    createdAt: first.createdAt,
    updatedAt: jobs.map((j) => j.updatedAt).reduce((a, b) => (b > a ? b : a)),
    jobs: jobs.map(inputJob),
  };
}
export type InputView = ReturnType<typeof inputView>;

export function registerInputRoutes(
  app: FastifyInstance,
  store: Pick<JobStore, 'list' | 'listByInput'>,
): void {
  app.get<{ Params: { id: string } }>('/v1/inputs/:id', async (req) => {
    const id = req.params.id;
    if (!INPUT_ID.test(id)) {
      throw new SluiceError(
        'INPUT_NOT_FOUND',
        `no input with id ${JSON.stringify(id.slice(0, 80))}: input ids are "in_" and 16 hex digits (a job's inputId)`,
      );
    }
    return inputView(id, await store.listByInput(id));
  });

  app.get('/v1/inputs', async (req) => {
    const q = parseBody(ListQuery, req.query, 'query');
    const ids: string[] = [];
    for (const j of await store.list({ limit: RECENT_JOBS })) {
      if (!ids.includes(j.inputId)) ids.push(j.inputId);
      if (ids.length >= q.limit) break;
    }
    const inputs = [];
    for (const id of ids) {
      const jobs = await store.listByInput(id);
      if (jobs.length > 0) inputs.push(inputView(id, jobs));
    }
    return { inputs };
  });
}
