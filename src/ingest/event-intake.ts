// Object-store notifications into ingest: each reference is checked (bucket and key), dropped when its
// sequencer is older than one already taken for the key, then the object itself is stat'ed — the event
// names a version, never its content — and the current version goes to Ingest.handle, whose
// idempotency key makes a redelivery find the job it made. A reference naming a version no longer
// there (replaced since, deleted, out of order) is stale and makes nothing.
import type { Logger } from 'pino';
import { type ErrorCode, SluiceError } from '../errors.ts';
import { validateBucketName, validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Ingest } from './ingest.ts';
import type { Notification, ObjectReference } from './notifications/object-reference.ts';
import { objectCreatedEvent } from './object-event.ts';
import type { ObjectSequencerStore } from './sequencer.ts';
import type { SkipNotice } from './skip-log.ts';

export interface IntakeSummary {
  /** References read (object-created events). */
  received: number;
  created: number;
  /** References whose object version already had its job (redeliveries). */
  duplicates: number;
  /** References to a version no longer current, or older (sequencer) than one already taken. */
  stale: number;
  /** Events that create nothing (deletes, test events, other types) and keys no pipeline takes. */
  ignored: number;
  /** References refused for good (a hostile key, a non-retryable ingest error), with the code. */
  refused: { bucket: string; key: string; code: ErrorCode; message: string }[];
  /** Ids of the jobs the references map to (made now or before). */
  jobs: string[];
}

export function emptySummary(): IntakeSummary {
  return { received: 0, created: 0, duplicates: 0, stale: 0, ignored: 0, refused: [], jobs: [] };
}

export class EventIntake {
  constructor(
    private readonly ingest: Ingest,
    private readonly objects: ObjectStore,
    private readonly sequencers: ObjectSequencerStore,
    private readonly log: Logger,
    private readonly onSkipped: (notice: SkipNotice) => Promise<void> = async () => {},
  ) {}

  /**
   * Every reference of `n`, in order. A retryable failure (store unavailable) throws, so the sender
   * delivers the whole notification again: what was done already is found again, nothing is lost.
   */
  async take(n: Notification, source: string): Promise<IntakeSummary> {
    const s = emptySummary();
    s.ignored = n.ignored.length;
    for (const ref of n.references) {
      s.received++;
      await this.one(ref, source, s);
    }
    this.log.info(
      { source, format: n.format, ...s, refused: s.refused.length, jobs: undefined },
      'object notification taken',
    );
    return s;
  }

  private async one(ref: ObjectReference, source: string, s: IntakeSummary): Promise<void> {
    const { bucket, key } = ref;
    try {
      validateBucketName(bucket);
      validateObjectKey(key);
    } catch (err) {
      const e = err as SluiceError;
      s.refused.push({ bucket, key, code: e.code, message: e.message });
      this.log.warn({ bucket, key, err: e.message }, 'object event refused: key');
      if (bucketOk(bucket))
        await this.onSkipped({
          bucket,
          key,
          reason: 'KEY_REFUSED',
          version: ref.etag ?? null,
          message: e.message,
        });
      return;
    }
    if (this.ingest.pipelinesFor(bucket, key).length === 0) {
      this.log.debug({ bucket, key }, 'object event ignored: no pipeline takes the key');
      s.ignored++;
      return;
    }
    if (ref.sequencer !== undefined) {
      const order = await this.sequencers.advanceSequencer(bucket, key, ref.sequencer, new Date());
      if (order === 'stale') {
        this.log.info(
          { bucket, key, sequencer: ref.sequencer },
          'stale object event skipped (older sequencer)',
        );
        s.stale++;
        return;
      }
    }
    const current = await this.objects.stat(bucket, key);
    if (!current || (ref.etag !== undefined && ref.etag !== current.etag)) {
      this.log.info(
        { bucket, key, etag: ref.etag ?? null, current: current?.etag ?? null },
        'stale object event skipped (not the current version)',
      );
      s.stale++;
      return;
    }
    try {
      const r = await this.ingest.handle(objectCreatedEvent(current, source));
      s.created += r.created;
      if (r.created === 0) s.duplicates++;
      s.jobs.push(...r.jobs.map((j) => j.id));
    } catch (err) {
      if (!(err instanceof SluiceError) || err.retryable) throw err;
      s.refused.push({ bucket, key, code: err.code, message: err.message });
      this.log.warn({ bucket, key, code: err.code, err: err.message }, 'object event refused');
      await this.onSkipped({
        bucket,
        key,
        reason: 'EVENT_REFUSED',
        version: current.etag,
        message: `${err.code}: ${err.message}`,
      });
    }
  }
}

function bucketOk(bucket: string): boolean {
  try {
    validateBucketName(bucket);
    return true;
  } catch {
    return false;
  }
}
