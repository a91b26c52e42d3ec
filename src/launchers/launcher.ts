// The Launcher seam: starts one worker for one attempt. Local child processes today; Kubernetes Jobs and
// command templates implement the same interface.
export interface LaunchRequest {
  jobId: string;
  leaseToken: string;
  /** The capacity pool the job was claimed for; the worker is started on that pool's capacity. */
  pool?: string;
}

export interface WorkerExit {
  jobId: string;
  leaseToken: string;
  code: number | null;
  signal: string | null;
  /** Last lines the worker wrote to stderr, for the job's troubleshooting record. */
  stderrTail: string;
}

export interface Launcher {
  /**
   * Resolves once the worker is started; rejects if it could not be: CAPACITY_UNAVAILABLE when the pool
   * has no capacity or quota left (the scheduler waits and retries with backoff), else LAUNCH_FAILED.
   */
  launch(req: LaunchRequest): Promise<void>;
  /** The pools this launcher starts workers on, in order of preference. */
  pools?(): readonly string[];
  /**
   * False when the launcher knows the pool is busy with its own workers (one exiting frees it and the
   * scheduler is poked), so no job is claimed for it; a launcher that can only tell by trying says true.
   */
  hasCapacity?(pool: string): boolean;
  /**
   * Stops the worker of a job, if this launcher runs one: SIGINT (the control plane's own stop; SIGTERM
   * is a preemption notice, see worker.ts), then SIGKILL after `graceMs`.
   */
  stop(jobId: string, graceMs: number): void;
  onExit(listener: (exit: WorkerExit) => void): void;
  running(): number;
  shutdown(graceMs: number): Promise<void>;
}
