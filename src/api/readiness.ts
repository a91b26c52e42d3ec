// Readiness (GET /v1/ready): whether this control plane can do its work now, that is whether the job
// store answers and the role buckets are reachable. Liveness (GET /v1/health) is only "the process
// answers": an orchestrator restarts a server that is not alive, but only takes one out of its load
// balancer while it is not ready (a database restarting should not restart every replica).
// Each check is bounded by a timeout, and one result serves every probe for `cacheMs`, so probes from a
// load balancer and an orchestrator at once do not turn into a query each.
import { SluiceError, toSluiceError } from '../errors.ts';
import { JOB_STATUSES } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export interface ReadinessOptions {
  store: Pick<JobStore, 'countByStatus'>;
  objects: Pick<ObjectStore, 'checkBuckets'>;
  /** The role buckets (source, destination). */
  buckets: string[];
  /** How long each check may take before it counts as down. */
  timeoutMs?: number;
  /** How long one result is reused. */
  cacheMs?: number;
}

export const READINESS_TIMEOUT_MS = 2000;
export const READINESS_CACHE_MS = 1000;

export class Readiness {
  private last: { at: number; result: Promise<SluiceError | null> } | null = null;

  constructor(private readonly o: ReadinessOptions) {}

  /** Null when ready; else the error naming what is down (JOB_STORE_UNAVAILABLE, BUCKETS_UNAVAILABLE). */
  check(now = Date.now()): Promise<SluiceError | null> {
    if (this.last && now - this.last.at < (this.o.cacheMs ?? READINESS_CACHE_MS)) return this.last.result;
    const result = this.run();
    this.last = { at: now, result };
    return result;
  }

  private async run(): Promise<SluiceError | null> {
    const timeoutMs = this.o.timeoutMs ?? READINESS_TIMEOUT_MS;
    try {
      await withTimeout(this.o.store.countByStatus('PROGRESSING'), timeoutMs);
    } catch (err) {
      return new SluiceError('JOB_STORE_UNAVAILABLE', `the job store does not answer: ${reason(err)}`);
    }
    try {
      await withTimeout(this.o.objects.checkBuckets?.(this.o.buckets) ?? Promise.resolve(), timeoutMs);
    } catch (err) {
      return new SluiceError(
        'BUCKETS_UNAVAILABLE',
        `the role buckets (${this.o.buckets.join(', ')}) are not all reachable: ${reason(err)}`,
      );
    }
    return null;
  }
}

/** Job counts by status for GET /v1/health, or null when the store does not answer in time. */
export async function jobCounts(
  store: Pick<JobStore, 'countByStatus'>,
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<Record<string, number> | null> {
  try {
    return await withTimeout(
      (async () => {
        const counts: Record<string, number> = {};
        for (const s of JOB_STATUSES) counts[s] = await store.countByStatus(s);
        return counts;
      })(),
      timeoutMs,
    );
  } catch {
    return null;
  }
}

function reason(err: unknown): string {
  const e = toSluiceError(err);
  return e.code === 'INTERNAL' ? e.message : `${e.code}: ${e.message}`;
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
