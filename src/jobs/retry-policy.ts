// A job's retry backoff, pure: a pipeline may give its own (initial delay, cap, multiplier); a job with
// none uses the server's (retryDelayMs in state-machine.ts: 2 s doubling up to 5 min). The delay has full
// jitter between half and all of the step, as the server's.
export interface RetryBackoff {
  initialSeconds: number;
  maxSeconds: number;
  multiplier: number;
}

/** Today's server-wide backoff, as a policy (what a pipeline gets when it names none). */
export const DEFAULT_BACKOFF: RetryBackoff = { initialSeconds: 2, maxSeconds: 300, multiplier: 2 };

/** The wait before retry `attempt` (1 = after the first failed attempt); rand in [0, 1). */
export function backoffDelayMs(b: RetryBackoff, attempt: number, rand: number): number {
  const step = Math.min(
    b.maxSeconds * 1000,
    b.initialSeconds * 1000 * b.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.round(step / 2 + (step / 2) * rand);
}

/**
 * The retry delay of a job: its own backoff when it has one, else the server's (`serverDelay`, which
 * tests may set to 0).
 */
export function jobRetryDelayMs(
  job: { retryBackoff: RetryBackoff | null } | null | undefined,
  attempt: number,
  serverDelay: (attempt: number) => number,
  rand = Math.random(),
): number {
  return job?.retryBackoff ? backoffDelayMs(job.retryBackoff, attempt, rand) : serverDelay(attempt);
}
