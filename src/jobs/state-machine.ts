// The job state machine, pure: (job, transition, now) -> next job + the job event to record with it.
// Stores apply the result in one transaction, so a row never changes without its event.
import { SluiceError } from '../errors.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import type { Job, JobError, JobOutput, JobPhase, JobProgress, JobStatus } from './job.ts';
import { hashLeaseToken, leaseHashesEqual, leaseTokenMatches } from './lease-token.ts';

export type Transition =
  | { type: 'claim'; leaseToken: string; leaseMs: number; pool?: string }
  | {
      type: 'release';
      reason: string;
      retryDelayMs: number;
      /** The launch was refused for capacity or quota: the job waits, visibly, for the reconcile loop. */
      waitingForCapacity?: boolean;
    }
  /** The attempt's worker got a preemption notice and handed the job back: not charged, offer moves on. */
  | { type: 'preempt'; leaseToken: string; reason: string }
  | { type: 'inherit'; leaseMs: number }
  | { type: 'start'; leaseToken: string; leaseMs: number }
  | {
      type: 'heartbeat';
      leaseToken: string;
      leaseMs: number;
      phase?: JobPhase;
      progress?: Partial<JobProgress>;
      inputMedia?: MediaInfo;
      stderrTail?: string;
    }
  | {
      type: 'complete';
      leaseToken: string;
      outputs: JobOutput[];
      stderrTail?: string;
      /** Template parts the input could not have, and why (kept on the job:complete event). */
      skipped?: { part: string; reason: string }[];
      /** A part of a chunked job: its receipt was there already (reused), and what it stored. */
      part?: { reused: boolean; files: number; bytes: number; madeBy?: Record<string, string> };
    }
  | {
      type: 'fail';
      /** The attempt's own token; null when the control plane reports for an attempt (lost worker). */
      leaseToken: string | null;
      /** With a null token: the lease hash the control plane saw, so a newer attempt is not failed. */
      leaseHash?: string | null;
      error: JobError;
      retryable: boolean;
      retryDelayMs: number;
      stderrTail?: string;
    }
  | { type: 'cancel'; reason: string }
  /**
   * A newer version of the input arrived (`by`: its job), or the worker found the object changed under it
   * (`leaseToken`: that attempt's). Ends CANCELED with error code SUPERSEDED, never ERROR.
   */
  | { type: 'supersede'; by: string | null; message: string; leaseToken?: string }
  /** A later job published the same output set: this one's outputs are gone. */
  | { type: 'outputs-replaced'; by: string }
  | { type: 'retry'; reason: string }
  /**
   * Chunked jobs (issue 13). `split`: the attempt probed the input and split the job into parts (made by
   * the caller); the job stays PROGRESSING with no lease of its own while its parts run. `parts-progress`:
   * the parts' aggregate phase and progress. `parts-complete`/`parts-failed`: the stitch published the set,
   * or a part ended in ERROR. `redo`: a COMPLETE part whose receipt is gone runs again.
   */
  | { type: 'split'; leaseToken: string; chunks: ChunkRange[]; inputMedia: MediaInfo }
  | { type: 'parts-progress'; phase: JobPhase; progress: JobProgress }
  | { type: 'parts-complete'; outputs: JobOutput[]; skipped?: { part: string; reason: string }[] }
  | { type: 'parts-failed'; error: JobError }
  | { type: 'redo'; reason: string };

export interface TransitionResult {
  job: Job;
  event: { type: string; fromStatus: JobStatus; toStatus: JobStatus; data: Record<string, unknown> };
}

const EMPTY_PROGRESS: JobProgress = { percent: 0, fps: null, speed: null, etaSeconds: null };

function plus(now: Date, ms: number): string {
  return new Date(now.getTime() + ms).toISOString();
}

function requireStatus(job: Job, allowed: JobStatus[], transition: string): void {
  if (!allowed.includes(job.status)) {
    throw new SluiceError('INVALID_TRANSITION', `job ${job.id} is ${job.status}; cannot ${transition}`, {
      status: job.status,
    });
  }
}

/**
 * Fencing: only the attempt holding the current lease may report on the job. The job keeps the hash of
 * the lease token; the presented token is hashed and compared in constant time.
 */
export function requireLease(job: Job, token: string | null, transition: string): void {
  if (job.status !== 'PROGRESSING' || !leaseTokenMatches(job.leaseHash, token))
    throw leaseLost(job, transition);
}

/** A chunked job waiting on its parts: PROGRESSING, split, with no attempt of its own holding a lease. */
function requireSplit(job: Job, transition: string): void {
  if (job.status !== 'PROGRESSING' || job.split === null || job.leaseHash !== null) {
    throw new SluiceError(
      'INVALID_TRANSITION',
      `job ${job.id} is ${job.status}${job.split ? '' : ', not split into parts'}; cannot ${transition}`,
      { status: job.status },
    );
  }
}

/** The control plane's own reports (a lost worker) are fenced on the lease hash it saw. */
function requireLeaseHash(job: Job, hash: string | null, transition: string): void {
  if (job.status !== 'PROGRESSING' || !leaseHashesEqual(job.leaseHash, hash))
    throw leaseLost(job, transition);
}

function leaseLost(job: Job, transition: string): SluiceError {
  return new SluiceError(
    'LEASE_LOST',
    `this attempt no longer holds job ${job.id} (status ${job.status}); its ${transition} was refused`,
    { status: job.status },
  );
}

export function applyTransition(job: Job, t: Transition, now: Date): TransitionResult {
  const at = now.toISOString();
  const from = job.status;
  const result = (next: Partial<Job>, type: string, data: Record<string, unknown> = {}): TransitionResult => {
    const updated: Job = { ...job, ...next, updatedAt: at };
    return { job: updated, event: { type, fromStatus: from, toStatus: updated.status, data } };
  };

  switch (t.type) {
    case 'claim':
      requireStatus(job, ['SUBMITTED'], 'be claimed');
      return result(
        {
          status: 'PROGRESSING',
          phase: null,
          progress: EMPTY_PROGRESS,
          attempts: job.attempts + 1,
          // Only the hash is kept (and stored); the scheduler hands the plain token to the worker.
          leaseHash: hashLeaseToken(t.leaseToken),
          leaseUntil: plus(now, t.leaseMs),
          startedAt: job.startedAt ?? at,
          error: null,
          pool: t.pool ?? null,
        },
        'job:claimed',
        { attempt: job.attempts + 1, ...(t.pool ? { pool: t.pool } : {}) },
      );
    case 'release':
      // The attempt's own failure is not the cause (its launch failed, the server shut down, or the control
      // plane restarted and the attempt's worker never checked in): the claim is undone and does not use
      // up an attempt.
      requireStatus(job, ['PROGRESSING'], 'be released');
      // The offer's fallback wait keeps running (offeredAt unchanged): a pool that refuses capacity lets
      // the next pool take the job once the wait has passed.
      return result(
        {
          status: 'SUBMITTED',
          phase: t.waitingForCapacity ? 'WAITING_FOR_CAPACITY' : null,
          attempts: Math.max(0, job.attempts - 1),
          leaseHash: null,
          leaseUntil: null,
          runAfter: plus(now, t.retryDelayMs),
        },
        'job:released',
        {
          reason: t.reason,
          ...(job.pool ? { pool: job.pool } : {}),
          ...(t.waitingForCapacity ? { phase: 'WAITING_FOR_CAPACITY' } : {}),
        },
      );
    case 'preempt':
      // Losing the machine is not the attempt's failure: the claim is undone (attempts unchanged by the
      // preemption) and a new offer starts now, past the pool that preempted it (pool-offer.ts).
      requireLease(job, t.leaseToken, 'be handed back');
      return result(
        {
          status: 'SUBMITTED',
          phase: null,
          progress: EMPTY_PROGRESS,
          attempts: Math.max(0, job.attempts - 1),
          leaseHash: null,
          leaseUntil: null,
          runAfter: at,
          offeredAt: at,
          preemptions: job.preemptions + 1,
        },
        'job:preempted',
        { reason: t.reason, attempt: job.attempts, pool: job.pool, preemptions: job.preemptions + 1 },
      );
    case 'inherit':
      // A control plane starting finds this attempt running from before its start: its worker may still be
      // encoding (workers outlive a crashed server), so it gets one lease period from now to check in.
      requireStatus(job, ['PROGRESSING'], 'be inherited');
      return result({ leaseUntil: plus(now, t.leaseMs) }, 'job:inherited', {
        attempt: job.attempts,
        leaseUntil: plus(now, t.leaseMs),
      });
    case 'start':
      requireLease(job, t.leaseToken, 'start');
      return result({ phase: 'PROBING', leaseUntil: plus(now, t.leaseMs) }, 'job:started', {
        attempt: job.attempts,
      });
    case 'heartbeat': {
      requireLease(job, t.leaseToken, 'heartbeat');
      const phase = t.phase ?? job.phase;
      const next: Partial<Job> = {
        phase,
        leaseUntil: plus(now, t.leaseMs),
        progress: { ...job.progress, ...t.progress },
      };
      if (t.inputMedia) next.inputMedia = t.inputMedia;
      if (t.stderrTail !== undefined) next.stderrTail = t.stderrTail;
      // The first report of what the input is (MediaConvert's INPUT_INFORMATION) is news; so is a phase.
      if (t.inputMedia && !job.inputMedia) {
        return result(next, 'job:input-information', {
          media: t.inputMedia,
          ...(phase !== job.phase ? { phase } : {}),
        });
      }
      const type = phase !== job.phase ? 'job:phase' : 'job:progress';
      return result(next, type, phase !== job.phase ? { phase } : {});
    }
    case 'complete':
      requireLease(job, t.leaseToken, 'complete');
      return result(
        {
          status: 'COMPLETE',
          phase: null,
          progress: { percent: 100, fps: job.progress.fps, speed: job.progress.speed, etaSeconds: 0 },
          outputs: t.outputs,
          leaseHash: null,
          leaseUntil: null,
          finishedAt: at,
          stderrTail: t.stderrTail ?? job.stderrTail,
        },
        'job:complete',
        {
          outputs: t.outputs.length,
          ...(t.skipped ? { skipped: t.skipped } : {}),
          ...(t.part ? { part: t.part } : {}),
        },
      );
    case 'fail': {
      if (t.leaseToken !== null) requireLease(job, t.leaseToken, 'fail');
      else requireLeaseHash(job, t.leaseHash === undefined ? job.leaseHash : t.leaseHash, 'fail');
      const retry = t.retryable && job.attempts < job.maxAttempts;
      const common: Partial<Job> = {
        phase: null,
        leaseHash: null,
        leaseUntil: null,
        error: t.error,
        stderrTail: t.stderrTail ?? job.stderrTail,
      };
      if (retry) {
        const runAfter = plus(now, t.retryDelayMs);
        return result(
          { ...common, status: 'SUBMITTED', runAfter, offeredAt: runAfter, progress: EMPTY_PROGRESS },
          'job:retry',
          { error: t.error, attempt: job.attempts },
        );
      }
      return result({ ...common, status: 'ERROR', finishedAt: at }, 'job:error', {
        error: t.error,
        attempt: job.attempts,
      });
    }
    case 'retry':
      // A dead-lettered or canceled job runs again with a fresh set of attempts; its history stays.
      requireStatus(job, ['ERROR', 'CANCELED'], 'be retried (only ERROR and CANCELED jobs are)');
      return result(
        {
          status: 'SUBMITTED',
          phase: null,
          progress: EMPTY_PROGRESS,
          attempts: 0,
          runAfter: at,
          leaseHash: null,
          leaseUntil: null,
          finishedAt: null,
          error: null,
          outputs: [],
          outputsReplacedBy: null,
          offeredAt: at,
          preemptions: 0,
        },
        'job:resubmitted',
        { reason: t.reason, previousError: job.error, previousAttempts: job.attempts },
      );
    case 'supersede':
      if (t.leaseToken !== undefined) requireLease(job, t.leaseToken, 'report');
      else requireStatus(job, ['SUBMITTED', 'PROGRESSING'], 'be superseded');
      return result(
        {
          status: 'CANCELED',
          phase: null,
          leaseHash: null,
          leaseUntil: null,
          finishedAt: at,
          error: { code: 'SUPERSEDED', message: t.message },
        },
        'job:superseded',
        { reason: 'SUPERSEDED', by: t.by, message: t.message },
      );
    case 'outputs-replaced':
      requireStatus(job, ['COMPLETE'], 'have its outputs replaced');
      return result({ outputs: [], outputsReplacedBy: t.by }, 'job:outputs-replaced', {
        by: t.by,
        outputs: job.outputs.length,
      });
    case 'split':
      requireLease(job, t.leaseToken, 'split');
      return result(
        {
          phase: 'TRANSCODING',
          progress: EMPTY_PROGRESS,
          leaseHash: null,
          leaseUntil: null,
          inputMedia: t.inputMedia,
          split: { chunks: t.chunks, attempt: job.attempts, at },
        },
        'job:split',
        { attempt: job.attempts, chunks: t.chunks.length, phase: 'TRANSCODING' },
      );
    case 'parts-progress': {
      requireSplit(job, 'take its parts’ progress');
      const next = { phase: t.phase, progress: t.progress };
      return t.phase !== job.phase
        ? result(next, 'job:phase', { phase: t.phase })
        : result(next, 'job:progress');
    }
    case 'parts-complete':
      requireSplit(job, 'complete from its parts');
      return result(
        {
          status: 'COMPLETE',
          phase: null,
          progress: { percent: 100, fps: null, speed: job.progress.speed, etaSeconds: 0 },
          outputs: t.outputs,
          finishedAt: at,
        },
        'job:complete',
        { outputs: t.outputs.length, parts: true, ...(t.skipped ? { skipped: t.skipped } : {}) },
      );
    case 'parts-failed':
      requireSplit(job, 'fail from its parts');
      return result({ status: 'ERROR', phase: null, finishedAt: at, error: t.error }, 'job:error', {
        error: t.error,
        attempt: job.attempts,
        parts: true,
      });
    case 'redo':
      requireStatus(job, ['COMPLETE'], 'be run again (only a COMPLETE part is)');
      if (job.parentId === null) {
        throw new SluiceError(
          'INVALID_TRANSITION',
          `job ${job.id} is not a part of a chunked job; retry it instead`,
        );
      }
      return result(
        {
          status: 'SUBMITTED',
          phase: null,
          progress: EMPTY_PROGRESS,
          attempts: 0,
          runAfter: at,
          finishedAt: null,
          error: null,
          outputs: [],
          offeredAt: at,
          preemptions: 0,
        },
        'job:resubmitted',
        { reason: t.reason, previousAttempts: job.attempts },
      );
    case 'cancel':
      requireStatus(job, ['SUBMITTED', 'PROGRESSING'], 'be canceled');
      return result(
        { status: 'CANCELED', phase: null, leaseHash: null, leaseUntil: null, finishedAt: at },
        'job:canceled',
        { reason: t.reason },
      );
  }
}

/** Exponential backoff with full jitter between half and all of the step (rand in [0, 1)). */
export function retryDelayMs(attempt: number, rand: number, baseMs = 2_000, maxMs = 300_000): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (step / 2) * rand);
}
