// When a failed delivery is tried again, pure: exponential backoff with jitter (half to all of each step),
// the step capped, for as long as the retry window (24 h by default) lasts; a Retry-After the target sent
// is taken as asked, never sooner than the base step (a target saying "0" cannot make us hammer it).

export interface RetrySchedule {
  /** First step. */
  baseMs: number;
  /** Largest step. */
  maxMs: number;
  /** How long after the delivery was made it is still tried; then it is FAILED. */
  windowMs: number;
}

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  baseMs: 5_000,
  maxMs: 3_600_000,
  windowMs: 24 * 3_600_000,
};

/**
 * After attempt `attempt` (1 = the first) failed at `now`: when to try again, or null when the window is
 * over. The last attempt lands on the window's end, so the retries span the whole window.
 */
export function nextAttemptAt(
  s: RetrySchedule,
  createdAt: Date,
  attempt: number,
  now: Date,
  rand: number,
  retryAfterMs?: number,
): Date | null {
  const end = createdAt.getTime() + s.windowMs;
  if (now.getTime() >= end) return null;
  const step = Math.min(s.maxMs, s.baseMs * 2 ** Math.max(0, attempt - 1));
  const delay =
    retryAfterMs !== undefined && Number.isFinite(retryAfterMs)
      ? Math.max(s.baseMs, retryAfterMs)
      : Math.round(step / 2 + (step / 2) * rand);
  return new Date(Math.min(end, now.getTime() + delay));
}
