// The job table as rows, shared by the SQLite and PostgreSQL stores: the same columns (timestamps as ISO
// text, documents as JSON text), the same mapping, and one fenced, versioned write of a transition.
import type { Generated, Selectable, Transaction } from 'kysely';
import { SluiceError } from '../errors.ts';
import type { LoggedEvent } from '../notify/cloud-event.ts';
import { type Job, type JobStatus, outputSetOf } from './job.ts';
import { jobSummary } from './job-summary.ts';
import { applyTransition, type Transition } from './state-machine.ts';

export interface JobsTable {
  id: string;
  status: string;
  phase: string | null;
  percent: number;
  fps: number | null;
  speed: number | null;
  eta_seconds: number | null;
  attempts: number;
  max_attempts: number;
  run_after: string;
  /** SHA-256 of the attempt's lease token (see lease-token.ts); never the token. */
  lease_hash: string | null;
  lease_until: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  pipeline: string;
  input: string;
  input_media: string | null;
  template_name: string;
  template: string;
  destination: string;
  outputs: string;
  error_code: string | null;
  error_message: string | null;
  stderr_tail: string | null;
  user_metadata: string;
  idempotency_key: string;
  version_group: string;
  output_set: string;
  outputs_replaced_by: string | null;
  /** The capacity pool of the current or last attempt; preemptions; when the current offer began. */
  pool: string | null;
  preemptions: number;
  offered_at: string;
  /** The pipeline's priority (claims: highest first), its retry backoff (JSON, null: the server's), the input. */
  priority: number;
  retry_backoff: string | null;
  input_id: string;
  /** Chunked jobs (issue 13): a part's parent and which part (JSON); a parent's split (JSON). */
  parent_id: string | null;
  part: string | null;
  split: string | null;
  /** Bumped by every write: an update lands only on the version it read (optimistic concurrency). */
  version: Generated<number>;
}

/** Which object versions became jobs: outlives the jobs themselves (retention), so none is redone. */
export interface IngestLedgerTable {
  idempotency_key: string;
  job_id: string;
  ingested_at: string;
}

export interface JobEventsTable {
  /** INTEGER in SQLite, BIGINT (read as a string) in PostgreSQL. */
  id: Generated<number | string>;
  job_id: string;
  at: string;
  type: string;
  from_status: string | null;
  to_status: string | null;
  data: string;
  /** The job's summary at the event (job-summary.ts), JSON; null on events from before it was kept. */
  job: string | null;
}

export interface JobTables {
  jobs: JobsTable;
  job_events: JobEventsTable;
  ingest_ledger: IngestLedgerTable;
}

export function toRow(job: Job): Omit<JobsTable, 'version'> {
  return {
    id: job.id,
    status: job.status,
    phase: job.phase,
    percent: job.progress.percent,
    fps: job.progress.fps,
    speed: job.progress.speed,
    eta_seconds: job.progress.etaSeconds,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    run_after: job.runAfter,
    lease_hash: job.leaseHash,
    lease_until: job.leaseUntil,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    updated_at: job.updatedAt,
    pipeline: job.pipeline,
    input: JSON.stringify(job.input),
    input_media: job.inputMedia ? JSON.stringify(job.inputMedia) : null,
    template_name: job.templateName,
    template: JSON.stringify(job.template),
    destination: JSON.stringify(job.destination),
    outputs: JSON.stringify(job.outputs),
    error_code: job.error?.code ?? null,
    error_message: job.error?.message ?? null,
    stderr_tail: job.stderrTail,
    user_metadata: JSON.stringify(job.userMetadata),
    idempotency_key: job.idempotencyKey,
    version_group: job.versionGroup,
    output_set: outputSetOf(job.destination),
    outputs_replaced_by: job.outputsReplacedBy,
    pool: job.pool,
    preemptions: job.preemptions,
    offered_at: job.offeredAt,
    priority: job.priority,
    retry_backoff: job.retryBackoff ? JSON.stringify(job.retryBackoff) : null,
    input_id: job.inputId,
    parent_id: job.parentId,
    part: job.part ? JSON.stringify(job.part) : null,
    split: job.split ? JSON.stringify(job.split) : null,
  };
}

export function fromRow(r: Selectable<JobsTable>): Job {
  return {
    id: r.id,
    status: r.status as JobStatus,
    phase: r.phase as Job['phase'],
    progress: { percent: r.percent, fps: r.fps, speed: r.speed, etaSeconds: r.eta_seconds },
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAfter: r.run_after,
    leaseHash: r.lease_hash,
    leaseUntil: r.lease_until,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    pipeline: r.pipeline,
    input: JSON.parse(r.input),
    inputMedia: r.input_media ? JSON.parse(r.input_media) : null,
    templateName: r.template_name,
    template: JSON.parse(r.template),
    destination: JSON.parse(r.destination),
    outputs: JSON.parse(r.outputs),
    error: r.error_code ? { code: r.error_code as never, message: r.error_message ?? '' } : null,
    stderrTail: r.stderr_tail,
    userMetadata: JSON.parse(r.user_metadata),
    idempotencyKey: r.idempotency_key,
    versionGroup: r.version_group,
    outputsReplacedBy: r.outputs_replaced_by,
    pool: r.pool,
    preemptions: Number(r.preemptions),
    offeredAt: r.offered_at || r.run_after,
    priority: Number(r.priority ?? 0),
    retryBackoff: r.retry_backoff ? JSON.parse(r.retry_backoff) : null,
    inputId: r.input_id,
    parentId: r.parent_id ?? null,
    part: r.part ? JSON.parse(r.part) : null,
    split: r.split ? JSON.parse(r.split) : null,
  };
}

/**
 * Applies `t` to the job read at `version` and writes it with its event. The update lands only if the row
 * is still at that version; otherwise VERSION_CONFLICT (retryable: the caller reads again), never
 * LEASE_LOST: a concurrent write (a heartbeat, an inherit) says nothing about who holds the lease.
 */
export async function applyAndSave(
  trx: Transaction<JobTables>,
  job: Job,
  version: number,
  t: Transition,
  now: Date,
): Promise<{ job: Job; claimable: boolean }> {
  const { job: next, event } = applyTransition(job, t, now);
  const { id: _id, idempotency_key: _key, created_at: _created, ...changes } = toRow(next);
  // Fencing at the row too: the update only lands if nobody changed the job since we read it.
  const updated = await trx
    .updateTable('jobs')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', job.id)
    .where('version', '=', version)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) throw versionConflict(job.id);
  if (event.type !== 'job:progress') {
    await insertEvent(trx, next, next.updatedAt, event.type, event.fromStatus, event.toStatus, event.data);
  }
  // Work to do again: a new claimable job (create) or one put back (release, retry, resubmit).
  return { job: next, claimable: next.status === 'SUBMITTED' };
}

/** A job-event row as the outbox reads it (JobStore.eventsAfter). */
export function loggedEventOf(r: Selectable<JobEventsTable>): LoggedEvent {
  return {
    id: Number(r.id),
    jobId: r.job_id,
    at: r.at,
    type: r.type,
    fromStatus: r.from_status as JobStatus | null,
    toStatus: r.to_status as JobStatus | null,
    data: JSON.parse(r.data),
    job: r.job ? JSON.parse(r.job) : null,
  };
}

/**
 * Writes the job:status-update event of the job read as `row` (MediaConvert's STATUS_UPDATE: where it
 * is), if it is PROGRESSING; false otherwise. The job row is unchanged.
 */
export async function insertStatusUpdate(
  trx: Transaction<JobTables>,
  row: Selectable<JobsTable> | undefined,
  now: Date,
): Promise<boolean> {
  if (row?.status !== 'PROGRESSING') return false;
  const job = fromRow(row);
  const data = { phase: job.phase, ...job.progress, attempt: job.attempts };
  await insertEvent(trx, job, now.toISOString(), 'job:status-update', job.status, job.status, data);
  return true;
}

/** A transaction of a store whose schema has (at least) the job tables. */
export function jobsOf<S extends JobTables>(trx: Transaction<S>): Transaction<JobTables> {
  return trx as unknown as Transaction<JobTables>;
}

export function versionConflict(id: string): SluiceError {
  return new SluiceError(
    'VERSION_CONFLICT',
    `job ${id} was changed by another writer while this change was being made; try again`,
  );
}

/** Transitions read, apply and write; a write that lost to a concurrent one is tried again on a fresh read. */
export const VERSION_RETRIES = 8;

export async function retryOnConflict<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SluiceError && err.code === 'VERSION_CONFLICT') || i >= VERSION_RETRIES) throw err;
    }
  }
}

/** Writes a job event with the summary of `job` as it is after the event (the outbox's snapshot). */
export async function insertEvent(
  trx: Transaction<JobTables>,
  job: Job,
  at: string,
  type: string,
  from: string | null,
  to: string | null,
  data: Record<string, unknown>,
): Promise<void> {
  await trx
    .insertInto('job_events')
    .values({
      job_id: job.id,
      at,
      type,
      from_status: from,
      to_status: to,
      data: JSON.stringify(data),
      job: JSON.stringify(jobSummary(job)),
    })
    .execute();
}
