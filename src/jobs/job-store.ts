// The JobStore seam: every operation the control plane needs from job storage, with no connection or
// transaction type leaking out. SQLite is the embedded default; PostgreSQL implements the same contract.
import type { SeenObjectStore } from '../ingest/seen-objects.ts';
import type { LoggedEvent } from '../notify/cloud-event.ts';
import type { Job, JobEvent, JobStatus, NewJob } from './job.ts';
import type { Transition } from './state-machine.ts';

export interface CreateResult {
  job: Job;
  /** False when the idempotency key already had a job: the existing one is returned. */
  created: boolean;
}

/** An entry of the ingest ledger: an object version (idempotency key) that became a job. */
export interface LedgerEntry {
  idempotencyKey: string;
  jobId: string;
  ingestedAt: string;
}

/** What a claimer asks for besides a job: the capacity pool it claims for (remote workers). */
export interface ClaimOptions {
  pool?: string;
}

/**
 * Queued (SUBMITTED) or running (PROGRESSING) jobs of one pipeline and pool, counted (GET /metrics). A
 * queued job counts under the last pool its offer has reached now (pool-offer.ts), a running one under its
 * attempt's pool; `any` for a claim that named no pool.
 */
export interface ActiveJobCount {
  status: 'SUBMITTED' | 'PROGRESSING';
  pipeline: string;
  pool: string;
  jobs: number;
}

/** Which jobs `list` returns: all filters apply together; at most `limit` (default 100). */
export interface JobListFilter {
  status?: JobStatus;
  /** Exactly this pipeline name. */
  pipeline?: string;
  /** Literal text (LIKE's `%` and `_` match themselves), ASCII case folded on SQLite. */
  q?: string;
  limit?: number;
  /** Also the parts of chunked jobs (left out by default: they are shown under their parent). */
  withParts?: boolean;
}

/** Also the source watch's ledger of seen object versions (ingest/seen-objects.ts). */
export interface JobStore extends SeenObjectStore {
  migrate(): Promise<void>;
  /** Creates the job, or returns the live job of its idempotency key; records the version in the ledger. */
  create(input: NewJob, now: Date): Promise<CreateResult>;
  /**
   * The ledger entry of an idempotency key, kept beyond job retention: an object event for a version
   * whose job was purged is a replay, not new work.
   */
  ingested(idempotencyKey: string): Promise<LedgerEntry | null>;
  /**
   * Cancels (SUPERSEDED) the SUBMITTED and PROGRESSING jobs of `versionGroup` other than `byJobId`, in one
   * transaction each; returns the jobs canceled.
   */
  supersede(versionGroup: string, byJobId: string, now: Date): Promise<Job[]>;
  /** Marks the other COMPLETE jobs of an output set as replaced by `byJobId`; returns their ids. */
  replaceOutputs(outputSet: string, byJobId: string, now: Date): Promise<string[]>;
  get(id: string): Promise<Job | null>;
  /** Jobs whose id starts with `prefix`, at most `limit` (a user's short form of an id). */
  findByIdPrefix(prefix: string, limit: number): Promise<Job[]>;
  /** Newest first, parts of chunked jobs left out; `q` is a case-insensitive substring of the id, the input key or a userMetadata value. */
  list(filter: JobListFilter): Promise<Job[]>;
  /** Runnable SUBMITTED jobs in claim order (priority, highest first, then the oldest): the queue's front. */
  listQueued(now: Date, limit: number): Promise<Job[]>;
  /** Jobs by status and pipeline: one grouped count (the console's counts and pipeline filter). */
  countByStatusAndPipeline(): Promise<{ status: JobStatus; pipeline: string; jobs: number }[]>;
  events(jobId: string): Promise<JobEvent[]>;
  /**
   * The job-event log in commit order: the events after event `afterId` (null: from the first), at most
   * `limit`, optionally of one job, each with its job's summary at the event. A reader that goes on from
   * the last event it got misses none: only events no running transaction can precede are returned
   * (PostgreSQL orders by transaction id and stops below the oldest one still running).
   */
  eventsAfter(afterId: number | null, limit: number, filter?: { jobId?: string }): Promise<LoggedEvent[]>;
  /** The newest event's id (null: none): where a reader of only what happens from now on starts. */
  lastEventId(): Promise<number | null>;
  /**
   * Records a job:status-update event (MediaConvert's STATUS_UPDATE) for a PROGRESSING job, with its
   * current progress; the job itself is unchanged. False when the job is not PROGRESSING.
   */
  recordStatusUpdate(jobId: string, now: Date): Promise<boolean>;
  /** A chunked job's parts (child jobs), oldest first (issue 13). `list` and the counts leave parts out. */
  listParts(parentId: string): Promise<Job[]>;
  /** Chunked jobs waiting on their parts (PROGRESSING, split, no lease of their own), oldest first. */
  listSplitRunning(limit: number): Promise<Job[]>;
  /** Split jobs that ended before `before`: the purge removes their parts areas first. */
  listSplitFinished(before: Date, limit: number): Promise<Job[]>;
  /** Parts still queued or running whose parent is not PROGRESSING any more (to be canceled). */
  listOrphanParts(limit: number): Promise<Job[]>;
  /** Attempts running now: PROGRESSING jobs holding a lease (what counts against local capacity). */
  countRunningAttempts(): Promise<number>;
  /** The jobs of one input (object version; input-group.ts), oldest first: its fan-out, one per pipeline. */
  listByInput(inputId: string): Promise<Job[]>;
  /** Applies a state-machine transition and records its event in one transaction. */
  transition(id: string, t: Transition, now: Date): Promise<Job>;
  /**
   * Atomically claims the runnable SUBMITTED job of highest priority, oldest first among equals, setting
   * its lease (only the token's hash is kept).
   * With `pool`, only a job that pool may take now (pool-offer.ts) and the pool is recorded on the attempt;
   * an unknown pool is POOL_UNKNOWN. Without it, any runnable job, as before pools.
   */
  claimNext(leaseToken: string, leaseMs: number, now: Date, opts?: ClaimOptions): Promise<Job | null>;
  /** Jobs of a status, parts of chunked jobs left out. */
  countByStatus(status: JobStatus): Promise<number>;
  /** Queued and running jobs by pipeline and pool at `now`: one grouped count, not a scan of the jobs. */
  countActive(now: Date): Promise<ActiveJobCount[]>;
  /** PROGRESSING jobs whose lease lapsed before `now`. */
  expiredLeases(now: Date): Promise<Job[]>;
  /** Deletes finished jobs that ended before `before`, with their events; queued work is never purged. */
  purgeFinished(before: Date): Promise<number>;
  /**
   * Calls `listener` when a job may have become claimable (created, put back, retried, released), at once
   * rather than at the next poll; returns the unsubscribe. Polling stays the fallback: a wake-up can be
   * missed (a dropped listening connection) and says nothing about run_after.
   */
  onWork?(listener: () => void): () => void;
  close(): Promise<void>;
}
