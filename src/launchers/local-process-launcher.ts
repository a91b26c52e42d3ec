// Launches each worker as a child process of the server (`sluice worker`), in its own process group so
// stopping it also stops the ffmpeg it runs.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../errors.ts';
import { type FfmpegBinaries, WORKER_FFMPEG_ENV } from '../media/ffmpeg-binaries.ts';
import { scratchPrefix } from '../worker/scratch-name.ts';
import type { Launcher, LaunchRequest, WorkerExit } from './launcher.ts';

export const SLUICE_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sluice.js');

export interface LocalProcessLauncherOptions {
  serverUrl: () => string;
  dataDir: string;
  logLevel: string;
  /** Where workers' own log lines go (the server's stderr by default). */
  forwardLog?: (line: string) => void;
  /** The ffmpeg the server located and checked, handed to workers so they skip the check. */
  ffmpeg?: FfmpegBinaries;
  /**
   * The pools this machine's workers serve and how many workers each may run at once, in order of
   * preference; a launch beyond a pool's capacity is refused with CAPACITY_UNAVAILABLE. Default: one
   * pool `local` with no limit of its own (the scheduler's concurrency caps it).
   */
  pools?: { name: string; capacity: number }[];
  /** More environment for each worker (the object store's settings). */
  env?: Record<string, string>;
}

const TAIL = 4096;

export class LocalProcessLauncher implements Launcher {
  /**
   * Running workers by attempt (lease token), not by job: a preempted attempt's worker may still be
   * exiting when the job's next attempt starts, and the two must not be mistaken for each other.
   */
  private readonly children = new Map<string, { jobId: string; pool: string; child: ChildProcess }>();
  private readonly listeners: ((exit: WorkerExit) => void)[] = [];
  private readonly capacity: Map<string, number>;

  constructor(private readonly options: LocalProcessLauncherOptions) {
    this.capacity = new Map(
      (options.pools ?? [{ name: 'local', capacity: Number.POSITIVE_INFINITY }]).map((p) => [
        p.name,
        p.capacity,
      ]),
    );
  }

  pools(): readonly string[] {
    return [...this.capacity.keys()];
  }

  /** A pool with no capacity at all (0) is still tried and refuses, as a cloud quota of 0 would. */
  hasCapacity(pool: string): boolean {
    const inUse = this.inUse(pool);
    return inUse === 0 || inUse < (this.capacity.get(pool) ?? 0);
  }

  private inUse(pool: string): number {
    return [...this.children.values()].filter((c) => c.pool === pool).length;
  }

  launch(req: LaunchRequest): Promise<void> {
    const pool = req.pool ?? this.pools()[0] ?? 'local';
    const capacity = this.capacity.get(pool);
    if (capacity === undefined) {
      return Promise.reject(
        new SluiceError('CAPACITY_UNAVAILABLE', `this server runs no local workers for pool "${pool}"`),
      );
    }
    const inUse = this.inUse(pool);
    if (inUse >= capacity) {
      return Promise.reject(
        new SluiceError(
          'CAPACITY_UNAVAILABLE',
          `pool "${pool}" has no local capacity left (${inUse} of ${capacity} workers running; SLUICE_LOCAL_POOLS)`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [SLUICE_BIN, 'worker', '--server', this.options.serverUrl(), '--job', req.jobId],
        {
          detached: true,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: {
            ...process.env,
            ...this.options.env,
            SLUICE_WORKER_TOKEN: req.leaseToken,
            SLUICE_DATA_DIR: this.options.dataDir,
            SLUICE_LOG_LEVEL: this.options.logLevel,
            ...(this.options.ffmpeg ? { [WORKER_FFMPEG_ENV]: JSON.stringify(this.options.ffmpeg) } : {}),
          },
        },
      );
      let tail = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        tail = (tail + chunk).slice(-TAIL);
        this.options.forwardLog?.(chunk);
      });
      this.children.set(req.leaseToken, { jobId: req.jobId, pool, child });
      child.once('error', (err) => {
        this.children.delete(req.leaseToken);
        reject(new SluiceError('LAUNCH_FAILED', `worker for ${req.jobId} could not start: ${err.message}`));
      });
      child.once('spawn', () => resolve());
      child.once('exit', (code, signal) => {
        this.children.delete(req.leaseToken);
        // Anything the worker left behind in its group (an orphaned ffmpeg) goes with it, and so does
        // its scratch folder if it could not remove it itself (killed).
        killGroup(child, 'SIGKILL');
        void this.removeScratch(req.jobId, scratchPrefix(req.jobId, req.leaseToken), child.pid);
        for (const l of this.listeners) l({ ...req, code, signal, stderrTail: tail });
      });
    });
  }

  /**
   * After the group's SIGKILL: an orphaned ffmpeg may still be writing frames into the folder for a few
   * milliseconds, so wait until the group is gone, then remove (retrying a folder that was still
   * filling, ENOTEMPTY). Never throws: a scratch folder left behind is logged, not a crash.
   */
  private async removeScratch(jobId: string, prefix: string, pid: number | undefined): Promise<void> {
    for (let i = 0; pid !== undefined && i < 50 && groupAlive(pid); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const tmp = path.join(this.options.dataDir, 'tmp');
    const names = await fs.readdir(tmp).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => n.startsWith(prefix))
        .map((n) =>
          fs
            .rm(path.join(tmp, n), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 })
            .catch((err: Error) =>
              this.options.forwardLog?.(
                `${JSON.stringify({ level: 40, msg: 'scratch folder not removed', jobId, folder: n, err: err.message })}\n`,
              ),
            ),
        ),
    );
  }

  stop(jobId: string, graceMs: number): void {
    for (const c of this.children.values()) if (c.jobId === jobId) this.stopChild(c.child, graceMs);
  }

  private stopChild(child: ChildProcess, graceMs: number): void {
    // SIGINT, not SIGTERM: the worker takes SIGTERM as a preemption notice and hands its job back, which
    // a stop asked for here (cancel, a lapsed lease, shutdown) must not be taken for.
    killGroup(child, 'SIGINT');
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) killGroup(child, 'SIGKILL');
    }, graceMs).unref();
  }

  onExit(listener: (exit: WorkerExit) => void): void {
    this.listeners.push(listener);
  }

  running(): number {
    return this.children.size;
  }

  async shutdown(graceMs: number): Promise<void> {
    const children = [...this.children.values()].map((c) => c.child);
    const exits = children.map(
      (c) =>
        new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once('exit', () => resolve()))),
    );
    for (const child of children) this.stopChild(child, graceMs);
    await Promise.all(exits);
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
