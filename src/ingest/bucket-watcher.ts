// The EventSource for buckets that send no notifications (local folders; S3 without events): poll the
// bucket and emit one object-created event per object version once it has stopped changing. A file still
// being copied keeps changing size or mtime and is not picked up until it has been still for `settleMs`.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.ts';
import { type ObjectEvent, objectCreatedEvent } from './object-event.ts';
import type { SkipNotice } from './skip-log.ts';

export interface BucketWatcherOptions {
  bucket: string;
  pollMs: number;
  settleMs: number;
}

/** Names that tools use while a file is still being written (browsers, rsync, editors, our own). */
const IN_PROGRESS = [/(^|\/)\./, /\.(part|partial|tmp|crdownload|download|filepart)$/i, /~$/];

interface Candidate {
  etag: string;
  since: number;
}

export class BucketWatcher {
  private readonly pending = new Map<string, Candidate>();
  private readonly emitted = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: BucketWatcherOptions,
    private readonly onEvent: (event: ObjectEvent) => Promise<void>,
    private readonly log: Logger,
    /** Told of every object this watcher leaves alone, on every pass (the receiver dedupes). */
    private readonly onSkip: (notice: SkipNotice) => Promise<void> = async () => {},
  ) {}

  start(): void {
    const tick = async () => {
      this.scanning = this.scan().catch((err) => this.log.error({ err }, 'bucket scan failed'));
      await this.scanning;
      if (this.timer) this.timer = setTimeout(tick, this.options.pollMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.scanning;
  }

  /** One pass over the bucket; exposed so tests can drive time without sleeping on a timer. */
  async scan(now = Date.now()): Promise<void> {
    const objects = await this.store.list(this.options.bucket);
    const seen = new Set<string>();
    for (const object of objects) {
      seen.add(object.key);
      if (IN_PROGRESS.some((re) => re.test(object.key))) {
        await this.skip(
          object,
          'TEMP_NAME',
          null,
          'a name tools give files still being written (.part, .tmp, ~, a leading dot); rename it when complete',
        );
        continue;
      }
      if (this.emitted.get(object.key) === object.etag) continue;
      const candidate = this.pending.get(object.key);
      if (!candidate || candidate.etag !== object.etag) {
        this.pending.set(object.key, { etag: object.etag, since: now });
        continue;
      }
      if (now - candidate.since < this.options.settleMs) continue;
      await this.emit(object);
    }
    for (const key of [...this.pending.keys(), ...this.emitted.keys()]) {
      if (!seen.has(key)) {
        this.pending.delete(key);
        this.emitted.delete(key);
      }
    }
  }

  private async emit(object: ObjectInfo): Promise<void> {
    try {
      validateObjectKey(object.key);
    } catch (err) {
      this.pending.delete(object.key);
      this.emitted.set(object.key, object.etag);
      this.log.warn({ key: object.key, err: (err as Error).message }, 'object ignored: key refused');
      await this.skip(object, 'KEY_REFUSED', object.etag, (err as Error).message);
      return;
    }
    try {
      await this.onEvent(objectCreatedEvent(object, `sluice://buckets/${this.options.bucket}`));
      this.pending.delete(object.key);
      this.emitted.set(object.key, object.etag);
    } catch (err) {
      if (err instanceof SluiceError && !err.retryable) {
        this.pending.delete(object.key);
        this.emitted.set(object.key, object.etag);
        this.log.warn({ key: object.key, code: err.code, err: err.message }, 'object event refused');
        await this.skip(object, 'EVENT_REFUSED', object.etag, `${err.code}: ${err.message}`);
        return;
      }
      // Left pending (still settled), so the next pass delivers it again; ingest is idempotent.
      this.log.error({ err, key: object.key }, 'object event not handled; will retry');
    }
  }

  private skip(object: ObjectInfo, reason: SkipNotice['reason'], version: string | null, message: string) {
    return this.onSkip({ bucket: this.options.bucket, key: object.key, reason, version, message });
  }
}
