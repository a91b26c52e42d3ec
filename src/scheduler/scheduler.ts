// The scheduler: launches workers while there is capacity, puts back jobs whose lease lapsed, notices
// workers that exited without reporting, and undoes a claim whose worker could not be launched (the job
// stays SUBMITTED and a later tick tries again; seed 000's health check). Attempts still running from
// before this control plane started (it restarted after a crash; their workers outlive it) are inherited:
// their workers get one lease period to check in, and one that never does is put back without charge.
// Several control planes may share one store (PostgreSQL): each launches its own workers, but lease
// expiry, inheriting and retention run only on the leader (leadership.ts), which inherits again each time
// it gains leadership: the attempts of a replica that died are then released without charge.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { newToken } from '../jobs/job-id.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { type Leadership, SoleLeader } from '../jobs/leadership.ts';
import { leaseTokenMatches } from '../jobs/lease-token.ts';
import { jobRetryDelayMs } from '../jobs/retry-policy.ts';
import { retryDelayMs } from '../jobs/state-machine.ts';
import type { Launcher, WorkerExit } from '../launchers/launcher.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { advanceSplitJobs, removePartsAreas } from './split-jobs.ts';

export interface SchedulerOptions {
  concurrency: number;
  leaseMs: number;
  intervalMs: number;
  /** How long a stopped worker gets to clean up before it is killed. */
  stopGraceMs: number;
  /** Finished jobs (COMPLETE, ERROR, CANCELED) and their events are deleted this long after they end. */
  retentionMs: number;
  /** Who runs the singleton loops among control planes sharing the store; absent: this one (SQLite). */
  leadership?: Leadership;
  /**
   * Other control planes share the store: capacity counts this process's own workers, not every
   * PROGRESSING job in the store (those of other replicas and of remote pull workers).
   */
  sharedStore?: boolean;
  /** Where chunked jobs keep their parts' files (removed once the job is COMPLETE). */
  objects?: ObjectStore;
}

const PURGE_EVERY_MS = 3600_000;
/** Backoff of a pool that refused a launch for capacity: 1 s, doubling, at most 30 s (with jitter). */
const CAPACITY_RETRY_FIRST_MS = 1000;
const CAPACITY_RETRY_MAX_MS = 30_000;

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  /** Unsubscribes from the store's wake-ups (a job became claimable); the interval is the fallback. */
  private offWork: (() => void) | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Shutting down: a worker stopped now gives its job back without using up an attempt. */
  private releasing = false;
  private lastPurge = 0;
  private readonly exits = new Set<Promise<void>>();
  /** Pools whose last launch was refused for capacity: how many times in a row, and when to try again. */
  private readonly refusals = new Map<string, { refusals: number; until: number }>();
  /** Set once the attempts running from before this start have been inherited (the first tick). */
  private inheritedAtStart = false;
  /**
   * Inherited attempts and the lease this scheduler gave each at start. A job whose lease lapses with the
   * same token and exactly that lease never heartbeated to this control plane: its worker was lost with the
   * previous one, which is not the attempt's own failure. Any heartbeat moves the lease past that value,
   * and from then on a lapse is the attempt's failure, as for attempts launched here.
   */
  private readonly inherited = new Map<string, { leaseHash: string | null; leaseUntil: string | null }>();
  /** Remote pull workers waiting for work (their long-polling claims): told on every poke and on stop. */
  private readonly workListeners = new Set<() => void>();
  private readonly leadership: Leadership;
  /** Whether the last tick found this process the leader. */
  private leading = false;

  constructor(
    private readonly store: JobStore,
    private readonly launcher: Launcher,
    private readonly options: SchedulerOptions,
    private readonly log: Logger,
  ) {
    this.leadership = options.leadership ?? new SoleLeader();
    launcher.onExit((exit) => {
      const handled = this.onWorkerExit(exit)
        .catch((err) => this.log.error({ err }, 'worker exit handling failed'))
        .finally(() => this.exits.delete(handled));
      this.exits.add(handled);
    });
  }

  start(): void {
    this.timer = setInterval(() => this.poke(), this.options.intervalMs);
    this.offWork = this.store.onWork?.(() => this.poke()) ?? null;
    this.poke();
  }

  /** Runs a tick now (or right after the running one): new job, freed capacity, cancel. */
  poke(): void {
    for (const l of this.workListeners) l();
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err) => this.log.error({ err }, 'scheduler tick failed'))
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Called on every poke (a new job, a finished one, a retry) until the returned function is called. */
  onWork(listener: () => void): () => void {
    this.workListeners.add(listener);
    return () => this.workListeners.delete(listener);
  }

  /** False once stopping: no work is handed out, to local or to remote workers. */
  accepting(): boolean {
    return !this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.workListeners) l();
    if (this.timer) clearInterval(this.timer);
    this.offWork?.();
    this.offWork = null;
    await this.ticking;
  }

  /** Waits until every worker exit seen so far has been recorded on its job. */
  async settle(): Promise<void> {
    while (this.exits.size > 0) await Promise.all([...this.exits]);
  }

  async cancel(jobId: string, reason: string) {
    const job = await this.store.transition(jobId, { type: 'cancel', reason }, new Date());
    this.launcher.stop(jobId, this.options.stopGraceMs);
    this.poke();
    return job;
  }

  /** Stops the workers of jobs that ended outside the scheduler (superseded), freeing their capacity. */
  stopWorkers(jobIds: string[]): void {
    for (const id of jobIds) this.launcher.stop(id, this.options.stopGraceMs);
    this.poke();
  }

  /** Whether this control plane ran the singleton loops on its last tick (GET /v1/health). */
  isLeader(): boolean {
    return this.leading;
  }

  private async tick(): Promise<void> {
    const now = new Date();
    const leader = await this.leadership.isLeader();
    if (leader !== this.leading) {
      this.leading = leader;
      // Gained again later: attempts are inherited afresh (the replica that led in between may be gone).
      this.inheritedAtStart = false;
      this.inherited.clear();
    }
    if (leader) await this.leaderTick(now);
    // Pools in order of preference (spot before on-demand): each claims what it may take (pool-offer.ts).
    // A launcher without pools claims as before pools, any runnable job.
    for (const pool of this.launcher.pools?.() ?? [undefined]) {
      if (pool !== undefined && (this.refusals.get(pool)?.until ?? 0) > Date.now()) continue;
      await this.launchFor(pool);
    }
  }

  /** The loops one control plane runs for all that share the store: retention, inheriting, lease expiry. */
  private async leaderTick(now: Date): Promise<void> {
    if (this.options.retentionMs > 0 && now.getTime() - this.lastPurge > PURGE_EVERY_MS) {
      this.lastPurge = now.getTime();
      const before = new Date(now.getTime() - this.options.retentionMs);
      // A chunked job kept its parts area while a retry could resume it; it goes with the job.
      await removePartsAreas(this.store, this.options.objects ?? null, before, this.log);
      const purged = await this.store.purgeFinished(before);
      if (purged > 0) this.log.info({ purged }, 'finished jobs past retention purged');
    }
    if (!this.inheritedAtStart) {
      this.inheritedAtStart = true;
      await this.inheritRunning(now);
    }
    // Chunked jobs: stitch, complete or fail each from its parts; parts of a job that ended stop.
    const split = await advanceSplitJobs(this.store, this.options.objects ?? null, this.log, now);
    // Parts canceled with their job: their local workers (and ffmpeg) stop as a cancel's do.
    for (const id of split.canceled) this.launcher.stop(id, this.options.stopGraceMs);
    if (split.changed) this.again = true;
    for (const job of await this.store.expiredLeases(now)) {
      this.launcher.stop(job.id, 0);
      const inherited = this.inherited.get(job.id);
      this.inherited.delete(job.id);
      if (inherited && inherited.leaseHash === job.leaseHash && inherited.leaseUntil === job.leaseUntil) {
        await this.releaseUnclaimed(job.id, job.attempts);
        continue;
      }
      await this.failLost(job.id, { hash: job.leaseHash }, job, 'its lease lapsed: no heartbeat', null);
    }
  }

  /** Attempts counted against the concurrency: this process's workers, or every running job of the store. */
  private async running(): Promise<number> {
    if (this.options.sharedStore) return this.launcher.running();
    return this.store.countRunningAttempts();
  }

  private async launchFor(pool: string | undefined): Promise<void> {
    while (!this.stopped && (await this.running()) < this.options.concurrency) {
      if (pool !== undefined && this.launcher.hasCapacity?.(pool) === false) break;
      const token = newToken();
      const job = await this.store.claimNext(
        token,
        this.options.leaseMs,
        new Date(),
        pool === undefined ? undefined : { pool },
      );
      if (!job) break;
      try {
        await this.launcher.launch({ jobId: job.id, leaseToken: token, ...(pool ? { pool } : {}) });
        if (pool !== undefined) this.refusals.delete(pool);
        this.log.info({ jobId: job.id, attempt: job.attempts, pool }, 'worker launched');
      } catch (err) {
        if (pool !== undefined && err instanceof SluiceError && err.code === 'CAPACITY_UNAVAILABLE') {
          await this.waitForCapacity(job.id, pool, err.message);
          break;
        }
        const delay = retryDelayMs(1, Math.random());
        this.log.warn(
          { jobId: job.id, err: (err as Error).message, retryInMs: delay },
          'launch failed; will retry',
        );
        await this.store.transition(
          job.id,
          { type: 'release', reason: (err as Error).message, retryDelayMs: delay },
          new Date(),
        );
        break;
      }
    }
  }

  /**
   * A launch refused for capacity or quota (seed 000's limit or quota): the claim is undone without
   * charge, the job waits visibly (phase WAITING_FOR_CAPACITY) and stays runnable, so a later pool may
   * take it once its fallback wait has passed; this pool is tried again after a capped exponential
   * backoff, by the scheduler's own ticks (the reconcile loop), so no job is stranded.
   */
  private async waitForCapacity(jobId: string, pool: string, why: string): Promise<void> {
    const refusals = (this.refusals.get(pool)?.refusals ?? 0) + 1;
    const delay = retryDelayMs(refusals, Math.random(), CAPACITY_RETRY_FIRST_MS, CAPACITY_RETRY_MAX_MS);
    this.refusals.set(pool, { refusals, until: Date.now() + delay });
    this.log.warn(
      { jobId, pool, err: why, refusals, retryInMs: delay },
      'launch refused: no capacity; will retry',
    );
    await this.store.transition(
      jobId,
      { type: 'release', reason: `CAPACITY_UNAVAILABLE: ${why}`, retryDelayMs: 0, waitingForCapacity: true },
      new Date(),
    );
  }

  /**
   * Jobs PROGRESSING when this scheduler starts were left running by a control plane that stopped without
   * releasing them (SIGKILL, crash, power loss). Their leases may have lapsed while no server was there to
   * renew them; each gets one lease period from now for its worker to check in.
   */
  private async inheritRunning(now: Date): Promise<void> {
    const running = await this.store.list({ status: 'PROGRESSING', limit: 100_000, withParts: true });
    for (const job of running) {
      // A split job waiting on its parts runs no attempt of its own: its parts are inherited instead.
      if (job.leaseHash === null) continue;
      try {
        const adopted = await this.store.transition(
          job.id,
          { type: 'inherit', leaseMs: this.options.leaseMs },
          now,
        );
        this.inherited.set(job.id, { leaseHash: adopted.leaseHash, leaseUntil: adopted.leaseUntil });
        this.log.info(
          { jobId: job.id, attempt: job.attempts, leaseUntil: adopted.leaseUntil },
          'attempt inherited from before the restart; waiting for its worker to check in',
        );
      } catch (err) {
        // Finished (reported, canceled) between the list and now: nothing to inherit.
        if (!(err instanceof SluiceError && err.code === 'INVALID_TRANSITION')) throw err;
      }
    }
  }

  /** An inherited attempt whose worker never checked in: put back, the attempt not counted. */
  private async releaseUnclaimed(jobId: string, attempt: number): Promise<void> {
    const seconds = this.options.leaseMs / 1000;
    try {
      await this.store.transition(
        jobId,
        {
          type: 'release',
          reason: `the control plane restarted and attempt ${attempt}'s worker did not check in within ${seconds} s; the job runs again without using up an attempt`,
          retryDelayMs: 0,
        },
        new Date(),
      );
      this.log.warn({ jobId, attempt }, 'inherited attempt never checked in; job released');
    } catch (err) {
      if (!(err instanceof SluiceError && err.code === 'INVALID_TRANSITION')) throw err;
    }
  }

  /**
   * Graceful stop: no new launches; running attempts get `graceMs` to finish, then their workers are
   * stopped and their jobs released back to SUBMITTED (the attempt not counted) for the next start.
   */
  async drain(graceMs: number): Promise<void> {
    await this.stop();
    const end = Date.now() + graceMs;
    while (this.launcher.running() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    this.releasing = true;
    await this.launcher.shutdown(Math.min(2000, graceMs));
    await this.settle();
  }

  private async onWorkerExit(exit: WorkerExit): Promise<void> {
    const job = await this.store.get(exit.jobId);
    const held = job?.status === 'PROGRESSING' && leaseTokenMatches(job.leaseHash, exit.leaseToken);
    if (job && held && this.releasing) {
      await this.store
        .transition(job.id, { type: 'release', reason: 'the server shut down', retryDelayMs: 0 }, new Date())
        .catch((err) =>
          this.log.warn({ jobId: job.id, err: (err as Error).message }, 'release on shutdown failed'),
        );
      this.log.info({ jobId: job.id }, 'job released on shutdown');
      return;
    }
    if (job && held) {
      const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
      await this.failLost(
        job.id,
        { token: exit.leaseToken },
        job,
        `the worker exited (${how}) without reporting`,
        exit.stderrTail,
      );
    }
    this.poke();
  }

  private async failLost(
    jobId: string,
    lease: { token: string } | { hash: string | null },
    of: Pick<Job, 'attempts' | 'retryBackoff'>,
    why: string,
    tail: string | null,
  ) {
    const attempt = of.attempts;
    try {
      const job = await this.store.transition(
        jobId,
        {
          type: 'fail',
          ...('token' in lease ? { leaseToken: lease.token } : { leaseToken: null, leaseHash: lease.hash }),
          error: { code: 'WORKER_LOST', message: `attempt ${attempt} failed: ${why}` },
          retryable: true,
          // The job's own backoff (its pipeline's) when it has one, else the server's.
          retryDelayMs: jobRetryDelayMs(of, attempt, (a) => retryDelayMs(a, Math.random())),
          ...(tail ? { stderrTail: tail } : {}),
        },
        new Date(),
      );
      this.log.warn({ jobId, status: job.status, why }, 'worker lost');
    } catch (err) {
      // The worker reported (or the job was canceled) in the meantime: nothing to do.
      if (!(err instanceof SluiceError && (err.code === 'LEASE_LOST' || err.code === 'INVALID_TRANSITION')))
        throw err;
    }
  }
}
