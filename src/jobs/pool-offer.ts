// Capacity pools (seed 000: preemptible capacity first, on-demand when none is left), pure. A job is
// offered to the first pool; each fallback wait that passes unclaimed opens the next pool too, and
// preemptions move the offer past the pool that preempted it: a job is not sent back to capacity that
// was just taken away. The store's claim and the job view both use this one rule.
import { SluiceError } from '../errors.ts';

export interface PoolSettings {
  /** Pool names in order of preference (e.g. spot, on-demand). */
  pools: readonly string[];
  /** How long a job waits unclaimed in its pools before the next pool may take it too; 0: at once. */
  fallbackMs: number;
  /** Preemptions a job takes in one pool before its offer moves on to the next. */
  preemptionsPerPool: number;
}

export const DEFAULT_POOLS: PoolSettings = { pools: ['local'], fallbackMs: 60_000, preemptionsPerPool: 1 };

export interface PoolOfferState {
  /** When the current offer began (the job became runnable, or was handed back after a preemption). */
  offeredAt: string;
  preemptions: number;
}

/** The range of pool indexes that may claim the job at `now`: first..last, inclusive. */
export function eligiblePools(
  s: PoolSettings,
  job: PoolOfferState,
  now: Date,
): { first: number; last: number } {
  const top = Math.max(0, s.pools.length - 1);
  const first = Math.min(top, Math.floor(job.preemptions / Math.max(1, s.preemptionsPerPool)));
  const waited = Math.max(0, now.getTime() - Date.parse(job.offeredAt));
  const waits = s.fallbackMs <= 0 ? top : Math.floor(waited / s.fallbackMs);
  return { first, last: Math.min(top, first + (Number.isFinite(waits) ? waits : 0)) };
}

/** The index of the last pool that may claim the job at `now`. */
export function lastEligiblePool(s: PoolSettings, job: PoolOfferState, now: Date): number {
  return eligiblePools(s, job, now).last;
}

/** Whether pool `pool` may claim the job at `now` (an unknown pool never may). */
export function poolMayClaim(s: PoolSettings, pool: string, job: PoolOfferState, now: Date): boolean {
  const i = s.pools.indexOf(pool);
  if (i < 0) return false;
  const { first, last } = eligiblePools(s, job, now);
  return i >= first && i <= last;
}

/** The pools offered the job at `now`, by name, for the job view. */
export function offeredPools(s: PoolSettings, job: PoolOfferState, now: Date): string[] {
  const { first, last } = eligiblePools(s, job, now);
  return s.pools.slice(first, last + 1);
}

/** A claim for a pool this server does not know is refused (POOL_UNKNOWN); no pool means any. */
export function requireKnownPool(s: PoolSettings, pool: string | undefined): void {
  if (pool !== undefined && !s.pools.includes(pool)) {
    throw new SluiceError(
      'POOL_UNKNOWN',
      `no capacity pool named "${pool}"; the pools are ${s.pools.join(', ')} (SLUICE_POOLS)`,
    );
  }
}
