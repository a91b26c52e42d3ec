// A counting semaphore with a bounded wait queue: at most `max` holders at once, at most `maxQueued`
// waiting; past that, acquire() refuses at once (SERVER_BUSY) rather than letting waiters pile up
// without bound. `maxQueued: 0` makes it refuse-only (uploads: a waiting upload would hold its socket
// and its unread body for nothing).
import { SluiceError } from '../errors.ts';

export type Release = () => void;

export interface ConcurrencyLimitOptions {
  max: number;
  maxQueued: number;
  /** Named in the refusal ("too many <what> at once"). */
  what: string;
  /** Sent as Retry-After with the refusal. */
  retryAfterSeconds: number;
}

export class ConcurrencyLimit {
  private holders = 0;
  private readonly waiting: ((release: Release) => void)[] = [];

  constructor(private readonly o: ConcurrencyLimitOptions) {
    if (!(o.max >= 1)) throw new RangeError(`a concurrency limit needs max >= 1, got ${o.max}`);
  }

  get active(): number {
    return this.holders;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A permit; the returned function gives it back (calling it twice is harmless). */
  acquire(): Promise<Release> {
    if (this.holders < this.o.max) {
      this.holders++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.o.maxQueued) return Promise.reject(this.busy());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // The permit passes straight to the next waiter, so `holders` never dips and lets a newcomer in first.
      if (next) next(this.releaser());
      else this.holders--;
    };
  }

  private busy(): SluiceError {
    const { max, maxQueued, what, retryAfterSeconds } = this.o;
    const queue = maxQueued > 0 ? ` and ${maxQueued} waiting` : '';
    return new SluiceError(
      'SERVER_BUSY',
      `too many ${what} at once (${max} running${queue}); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }
}
