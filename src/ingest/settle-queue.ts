// Objects on their way from a bucket to ingest: each key something may have changed at (a filesystem
// event, a listing) is stat'ed and given a timer; when the timer fires the key is stat'ed again, and an
// object whose etag (local: size + mtime) stayed the same for `settleMs` is handed to ingest as one
// object-created event. A file still being copied keeps changing and keeps waiting. No periodic scan:
// an idle bucket costs no work here at all.
//
// What is left alone is reported as a skip: temp names (the name decides, so no version), keys Sluice
// refuses, and versions ingest refused for good (recorded in the ledger, so never offered again). A
// retryable ingest failure is offered again after a delay that doubles, up to `maxRetryMs`.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.ts';
import { type ObjectEvent, objectCreatedEvent } from './object-event.ts';
import type { SeenObjectStore } from './seen-objects.ts';
import type { SkipNotice } from './skip-log.ts';

export interface SettleQueueOptions {
  bucket: string;
  settleMs: number;
  /** First delay before a retryable ingest failure is offered again (doubles each time). */
  retryMs?: number;
  maxRetryMs?: number;
  /**
   * A listed object is complete as listed (S3: an object appears whole, `replacesAtomically`): the
   * listing's version is handed on at once, with no stat and no settle window.
   */
  listingIsFinal?: boolean;
}

/** Names that tools use while a file is still being written (browsers, rsync, editors, our own). */
const IN_PROGRESS = [/(^|\/)\./, /\.(part|partial|tmp|crdownload|download|filepart)$/i, /~$/];

export function isTempName(key: string): boolean {
  return IN_PROGRESS.some((re) => re.test(key));
}

interface Pending {
  /** The version seen when `since` began; null before the first stat. */
  etag: string | null;
  /** When (performance.now) the key was first seen at this etag. */
  since: number;
  timer: NodeJS.Timeout | null;
  /** A check (stat, emit) is running; `again` asks for one more once it ends. */
  busy: boolean;
  again: boolean;
  failures: number;
}

export class SettleQueue {
  private readonly pending = new Map<string, Pending>();
  /** Emits run one at a time, in the order keys settled (ingest itself is not built for a stampede). */
  private chain: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly seen: SeenObjectStore,
    private readonly options: SettleQueueOptions,
    private readonly onEvent: (event: ObjectEvent) => Promise<void>,
    private readonly log: Logger,
    private readonly onSkip: (notice: SkipNotice) => Promise<void> = async () => {},
  ) {}

  /** Keys waiting to settle (or to be offered again). */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Something may have changed at `key`. `listed` is the object as a listing just saw it (no stat is
   * made now then); without it the key is stat'ed at once. Either way it settles from now on.
   */
  notice(key: string, listed?: ObjectInfo): void {
    if (this.stopped) return;
    if (isTempName(key)) {
      this.skip(
        key,
        'TEMP_NAME',
        null,
        'a name tools give files still being written (.part, .tmp, ~, a leading dot); rename it when complete',
      );
      return;
    }
    try {
      validateObjectKey(key);
    } catch (err) {
      this.log.warn({ key, err: (err as Error).message }, 'object ignored: key refused');
      this.skip(key, 'KEY_REFUSED', null, (err as Error).message);
      return;
    }
    const p = this.pending.get(key);
    if (p) {
      if (p.busy) p.again = true;
      else this.track(this.check(key, p));
      return;
    }
    const fresh: Pending = { etag: null, since: 0, timer: null, busy: false, again: false, failures: 0 };
    this.pending.set(key, fresh);
    if (listed && this.options.listingIsFinal) {
      fresh.etag = listed.etag;
      fresh.busy = true;
      this.track(this.enqueueEmit(key, fresh, listed).finally(() => this.checked(key, fresh)));
    } else if (listed) {
      fresh.etag = listed.etag;
      fresh.since = performance.now();
      this.arm(key, fresh, this.options.settleMs);
    } else {
      this.track(this.check(key, fresh));
    }
  }

  /** Resolves once no check is running (tests; stop). */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    await this.chain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    await this.drained();
    this.pending.clear();
  }

  private track(work: Promise<void>): void {
    const done = work
      .catch((err) => this.log.error({ err }, 'settle check failed'))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  private arm(key: string, p: Pending, ms: number): void {
    if (this.stopped) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(
      () => {
        p.timer = null;
        if (p.busy) p.again = true;
        else this.track(this.check(key, p));
      },
      Math.max(0, ms),
    );
  }

  /** Stats the key: a new version starts its settle window; one unchanged for settleMs is emitted. */
  private async check(key: string, p: Pending): Promise<void> {
    p.busy = true;
    try {
      let info: ObjectInfo | null;
      try {
        info = await this.statOrNull(key);
      } catch (err) {
        this.log.warn({ err, key }, 'object not readable; looking again later');
        this.arm(key, p, Math.max(this.options.settleMs, this.options.retryMs ?? 1000));
        return;
      }
      if (this.stopped) return;
      if (!info) {
        // Gone (deleted, renamed away, a folder, a link): nothing to settle.
        if (p.timer) clearTimeout(p.timer);
        this.pending.delete(key);
        return;
      }
      const now = performance.now();
      if (info.etag !== p.etag) {
        p.etag = info.etag;
        p.since = now;
        p.failures = 0;
        this.arm(key, p, this.options.settleMs);
        return;
      }
      const left = p.since + this.options.settleMs - now;
      if (left > 0) {
        this.arm(key, p, left);
        return;
      }
      await this.enqueueEmit(key, p, info);
    } finally {
      this.checked(key, p);
    }
  }

  /** A check (or a hand-on) of `key` ended: if something happened at the key meanwhile, look again. */
  private checked(key: string, p: Pending): void {
    p.busy = false;
    if (p.again && !this.stopped) {
      p.again = false;
      if (this.pending.get(key) === p) this.track(this.check(key, p));
      else this.notice(key);
    }
  }

  private enqueueEmit(key: string, p: Pending, info: ObjectInfo): Promise<void> {
    const run = this.chain.then(() => this.emit(key, p, info));
    this.chain = run.catch(() => {});
    return run;
  }

  private async emit(key: string, p: Pending, object: ObjectInfo): Promise<void> {
    if (this.stopped) return;
    const { bucket } = this.options;
    const done = () => {
      if (this.pending.get(key) === p) this.pending.delete(key);
    };
    if ((await this.seen.seenVersion(bucket, key)) === object.etag) {
      done(); // handed on before (a restart, a metadata-only change): nothing new
      return;
    }
    try {
      await this.onEvent(objectCreatedEvent(object, `sluice://buckets/${bucket}`));
    } catch (err) {
      if (err instanceof SluiceError && !err.retryable) {
        this.log.warn({ key, code: err.code, err: err.message }, 'object event refused');
        this.skip(key, 'EVENT_REFUSED', object.etag, `${err.code}: ${err.message}`);
        await this.remember(key, object.etag);
        done();
        return;
      }
      // Offered again later (still settled); ingest is idempotent.
      p.failures++;
      const delay = Math.min(
        (this.options.retryMs ?? 1000) * 2 ** (p.failures - 1),
        this.options.maxRetryMs ?? 60_000,
      );
      this.log.error({ err, key, retryInMs: delay }, 'object event not handled; will retry');
      this.arm(key, p, delay);
      return;
    }
    await this.remember(key, object.etag);
    done();
  }

  /** A ledger write that fails is logged: the next reconcile offers the version again (idempotent). */
  private async remember(key: string, etag: string): Promise<void> {
    await this.seen
      .markSeen(this.options.bucket, key, etag, new Date())
      .catch((err) => this.log.error({ err, key }, 'seen-objects ledger not written'));
  }

  private async statOrNull(key: string): Promise<ObjectInfo | null> {
    try {
      return await this.store.stat(this.options.bucket, key);
    } catch (err) {
      // A link on the way (the store logged it): never followed, nothing to settle.
      if (err instanceof SluiceError && ['SYMLINK_REFUSED', 'INVALID_OBJECT_KEY'].includes(err.code)) {
        return null;
      }
      throw err;
    }
  }

  private skip(key: string, reason: SkipNotice['reason'], version: string | null, message: string): void {
    void this.onSkip({ bucket: this.options.bucket, key, reason, version, message }).catch((err) =>
      this.log.error({ err, key }, 'skip not reported'),
    );
  }
}
