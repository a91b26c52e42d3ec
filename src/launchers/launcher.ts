// The Launcher seam: starts one worker for one attempt. Local child processes today; Kubernetes Jobs and
// command templates implement the same interface.
export interface LaunchRequest {
  jobId: string;
  leaseToken: string;
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
  /** Resolves once the worker is started; rejects if it could not be. */
  launch(req: LaunchRequest): Promise<void>;
  /** Stops the worker of a job, if this launcher runs one: SIGTERM, then SIGKILL after `graceMs`. */
  stop(jobId: string, graceMs: number): void;
  onExit(listener: (exit: WorkerExit) => void): void;
  running(): number;
  shutdown(graceMs: number): Promise<void>;
}
