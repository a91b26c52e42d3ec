// The Worker API: the only way a worker talks to the control plane. Every call carries the attempt's
// lease token as a bearer token; a call from an attempt that no longer holds the job gets 409 LEASE_LOST.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode, isErrorCode, SluiceError } from '../errors.ts';
import { JOB_PHASES, type Job, outputSetOf } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { requireOutputsInDestination } from '../jobs/output-scope.ts';
import { jobRetryDelayMs } from '../jobs/retry-policy.ts';
import { requireLease } from '../jobs/state-machine.ts';
import type { Assignment } from '../worker/worker-api-client.ts';
import { parseBody } from './validate.ts';

const Progress = z.strictObject({
  percent: z.number().min(0).max(100).optional(),
  fps: z.number().nullable().optional(),
  speed: z.number().nullable().optional(),
  etaSeconds: z.number().nullable().optional(),
});

export const Heartbeat = z.strictObject({
  phase: z.enum(JOB_PHASES).optional(),
  progress: Progress.optional(),
  inputMedia: z.record(z.string(), z.unknown()).optional(),
  stderrTail: z.string().max(16_384).optional(),
});

const Output = z.strictObject({
  type: z.string().min(1),
  bucket: z.string().min(1),
  key: z.string().min(1),
  size: z.number().int().nonnegative().optional(),
  analysis: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional(),
});

export const Complete = z.strictObject({
  outputs: z.array(Output).max(100_000),
  inputMedia: z.record(z.string(), z.unknown()).optional(),
  stderrTail: z.string().max(16_384).optional(),
  /** What of the template the input could not have (an audio file under a video template). */
  skipped: z
    .array(z.strictObject({ part: z.string().min(1).max(32), reason: z.string().max(512) }))
    .max(16)
    .optional(),
  /** A chunk or audio part of a chunked job: its receipt was there already (reused), what it stored. */
  part: z
    .strictObject({
      reused: z.boolean(),
      files: z.number().int().min(0),
      bytes: z.number().int().min(0),
      /** The stitch: the attempt that made each part it joined, from their receipts. */
      madeBy: z.record(z.string().max(64), z.string().max(200)).optional(),
    })
    .optional(),
});

// No retry flag: whether a failure is worth another attempt is the server's call, from the code's entry
// in ERROR_CATALOGUE, so a deterministic input failure cannot burn every attempt. The schema is strict;
// `retryable`, which workers before this rule sent, is accepted and ignored.
export const Fail = z.strictObject({
  retryable: z.boolean().optional(),
  code: z.string().refine(isErrorCode, 'unknown error code'),
  message: z.string().max(4096),
  stderrTail: z.string().max(16_384).optional(),
  /** A chunked job's stitch (CHUNK_MISSING, CHUNK_DISCONTINUITY): the parts to encode again. */
  parts: z
    .strictObject({
      chunks: z.array(z.number().int().min(0)).max(10_000),
      audio: z.boolean(),
    })
    .optional(),
});

// A worker handing its job back before it could finish. Only a preemption notice is a reason today.
export const Release = z.strictObject({
  reason: z.literal('PREEMPTED'),
  message: z.string().max(1024).optional(),
});

export interface WorkerRouteOptions {
  store: JobStore;
  leaseMs: number;
  heartbeatSeconds: number;
  retryDelay: (attempt: number) => number;
  onFinished: () => void;
  /**
   * A stitch found parts missing or broken (Fail.parts): they are encoded again and the stitch waits for
   * them (worker-split-routes.ts); false when it is not that case, and the failure is recorded as any.
   */
  onPartsBroken?: (
    job: Job,
    token: string,
    parts: { chunks: number[]; audio: boolean },
    code: ErrorCode,
  ) => Promise<boolean>;
}

/** What a worker gets for a started attempt: the job as it runs it, and its heartbeat and lease periods. */
export function assignmentOf(job: Job, heartbeatSeconds: number, leaseMs: number): Assignment {
  return {
    job: {
      id: job.id,
      attempt: job.attempts,
      input: job.input,
      template: job.template,
      destination: job.destination,
      ...(job.parentId && job.part
        ? {
            parentId: job.parentId,
            part: job.part,
            ...(job.inputMedia ? { inputMedia: job.inputMedia } : {}),
          }
        : {}),
    },
    heartbeatSeconds,
    leaseSeconds: leaseMs / 1000,
  };
}

export function tokenOf(req: FastifyRequest): string {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1])
    throw new SluiceError('UNAUTHORIZED', 'Worker API calls need "Authorization: Bearer <attempt token>"');
  return match[1];
}

export function registerWorkerRoutes(app: FastifyInstance, o: WorkerRouteOptions): void {
  const { store, leaseMs } = o;
  type P = { Params: { id: string } };

  app.post<P>('/v1/worker/jobs/:id/claim', async (req) => {
    const job = await store.transition(
      req.params.id,
      { type: 'start', leaseToken: tokenOf(req), leaseMs },
      new Date(),
    );
    return assignmentOf(job, o.heartbeatSeconds, leaseMs);
  });

  app.post<P>('/v1/worker/jobs/:id/heartbeat', async (req) => {
    const body = parseBody(Heartbeat, req.body);
    const job = await store.transition(
      req.params.id,
      {
        type: 'heartbeat',
        leaseToken: tokenOf(req),
        leaseMs,
        ...(body.phase ? { phase: body.phase } : {}),
        ...(body.progress ? { progress: body.progress } : {}),
        ...(body.inputMedia ? { inputMedia: body.inputMedia as never } : {}),
        ...(body.stderrTail !== undefined ? { stderrTail: body.stderrTail } : {}),
      },
      new Date(),
    );
    return { status: job.status, leaseUntil: job.leaseUntil };
  });

  app.post<P>('/v1/worker/jobs/:id/complete', async (req) => {
    const body = parseBody(Complete, req.body);
    const token = tokenOf(req);
    // Outputs outside the job's own destination are refused before anything is recorded (the lease
    // first, so a caller without the token learns nothing); the transition below fences again.
    const current = await store.get(req.params.id);
    if (!current) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${req.params.id}`);
    requireLease(current, token, 'complete');
    requireOutputsInDestination(current.destination, body.outputs);
    if (body.inputMedia) {
      await store.transition(
        req.params.id,
        { type: 'heartbeat', leaseToken: token, leaseMs, inputMedia: body.inputMedia as never },
        new Date(),
      );
    }
    const job = await store.transition(
      req.params.id,
      {
        type: 'complete',
        leaseToken: token,
        outputs: body.outputs,
        ...(body.stderrTail ? { stderrTail: body.stderrTail } : {}),
        ...(body.skipped?.length ? { skipped: body.skipped } : {}),
        ...(body.part ? { part: body.part } : {}),
      },
      new Date(),
    );
    // This job's set replaced whatever an earlier job of the same input and template had published. A
    // part of a chunked job publishes for its parent, whose completion does this (split-jobs.ts).
    if (job.parentId === null) await store.replaceOutputs(outputSetOf(job.destination), job.id, new Date());
    o.onFinished();
    return { status: job.status };
  });

  // The worker got a preemption notice (SIGTERM): the job goes back to the queue without using up an
  // attempt, and its next offer skips past this pool (pool-offer.ts).
  app.post<P>('/v1/worker/jobs/:id/release', async (req) => {
    const body = parseBody(Release, req.body);
    const job = await store.transition(
      req.params.id,
      {
        type: 'preempt',
        leaseToken: tokenOf(req),
        reason: body.message ? `${body.reason}: ${body.message}` : body.reason,
      },
      new Date(),
    );
    o.onFinished();
    return { status: job.status };
  });

  app.post<P>('/v1/worker/jobs/:id/fail', async (req) => {
    const body = parseBody(Fail, req.body);
    const code = body.code as ErrorCode;
    const current = await store.get(req.params.id);
    if (code === 'SUPERSEDED') {
      // The object changed under the attempt: not a failure of the job, a newer version to process.
      const job = await store.transition(
        req.params.id,
        { type: 'supersede', by: null, message: body.message, leaseToken: tokenOf(req) },
        new Date(),
      );
      o.onFinished();
      return { status: job.status };
    }
    if (body.parts && current && o.onPartsBroken) {
      if (await o.onPartsBroken(current, tokenOf(req), body.parts, code)) {
        o.onFinished();
        return { status: 'CANCELED' };
      }
    }
    const job = await store.transition(
      req.params.id,
      {
        type: 'fail',
        leaseToken: tokenOf(req),
        error: { code, message: body.message },
        retryable: ERROR_CATALOGUE[code].retryable,
        // The job's own backoff (its pipeline's) when it has one, else the server's.
        retryDelayMs: jobRetryDelayMs(current, current?.attempts ?? 1, o.retryDelay),
        ...(body.stderrTail ? { stderrTail: body.stderrTail } : {}),
      },
      new Date(),
    );
    o.onFinished();
    return { status: job.status };
  });
}
