// The JobStore seam: every operation the control plane needs from job storage, with no connection or
// transaction type leaking out. SQLite is the embedded default; PostgreSQL implements the same contract.
import type { Job, JobEvent, JobStatus, NewJob } from './job.ts';
import type { Transition } from './state-machine.ts';

export interface CreateResult {
  job: Job;
  /** False when the idempotency key already had a job: the existing one is returned. */
  created: boolean;
}

export interface JobStore {
  migrate(): Promise<void>;
  create(input: NewJob, now: Date): Promise<CreateResult>;
  get(id: string): Promise<Job | null>;
  list(filter: { status?: JobStatus; limit?: number }): Promise<Job[]>;
  events(jobId: string): Promise<JobEvent[]>;
  /** Applies a state-machine transition and records its event in one transaction. */
  transition(id: string, t: Transition, now: Date): Promise<Job>;
  /** Atomically claims the oldest runnable SUBMITTED job, setting its lease (only the token's hash is kept). */
  claimNext(leaseToken: string, leaseMs: number, now: Date): Promise<Job | null>;
  countByStatus(status: JobStatus): Promise<number>;
  /** PROGRESSING jobs whose lease lapsed before `now`. */
  expiredLeases(now: Date): Promise<Job[]>;
  /** Deletes finished jobs that ended before `before`, with their events; queued work is never purged. */
  purgeFinished(before: Date): Promise<number>;
  close(): Promise<void>;
}
