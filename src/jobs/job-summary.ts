// What a job event tells the outside about its job: the summary kept with every event (a snapshot taken in
// the transition's own transaction), so a notification sent hours later says what was true at the event.
import type { Job, JobError, JobOutput, JobPhase, JobProgress, JobStatus, ObjectRef } from './job.ts';

export interface JobSummary {
  id: string;
  status: JobStatus;
  phase: JobPhase | null;
  progress: JobProgress;
  attempts: number;
  maxAttempts: number;
  pipeline: string;
  /** The template's name (its settings are the job's, at GET /v1/jobs/:id). */
  template: string;
  input: ObjectRef;
  /** The input (object version) the job's fan-out siblings share. */
  inputId: string;
  destination: { bucket: string; prefix: string };
  outputs: JobOutput[];
  error: JobError | null;
  userMetadata: Record<string, string>;
  pool: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** A part of a chunked job: its job (parts are not notified; their job is). Absent on every other job. */
  parentId?: string;
}

export function jobSummary(job: Job): JobSummary {
  return {
    id: job.id,
    status: job.status,
    phase: job.phase,
    progress: { ...job.progress },
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    pipeline: job.pipeline,
    template: job.templateName,
    input: job.input,
    inputId: job.inputId,
    destination: job.destination,
    outputs: job.outputs,
    error: job.error,
    userMetadata: job.userMetadata,
    pool: job.pool,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    ...(job.parentId ? { parentId: job.parentId } : {}),
  };
}
