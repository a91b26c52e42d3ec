// The launcher of a pure control plane (`sluice serve --no-local-workers`): it starts nothing. Work is
// pulled by remote workers (POST /v1/worker/claim); the scheduler still expires leases, retries and purges.
import type { Launcher, LaunchRequest, WorkerExit } from './launcher.ts';

export class NoLauncher implements Launcher {
  launch(req: LaunchRequest): Promise<void> {
    return Promise.reject(new Error(`no local workers on this control plane (job ${req.jobId})`));
  }
  stop(_jobId: string, _graceMs: number): void {}
  onExit(_listener: (exit: WorkerExit) => void): void {}
  running(): number {
    return 0;
  }
  async shutdown(_graceMs: number): Promise<void> {}
}
