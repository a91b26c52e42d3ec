// Objects the watcher does not turn into jobs, made visible: each skip is logged at info with its reason
// and kept as an ingest record the API lists (GET /v1/ingest/skipped). The watcher polls twice a second,
// so a skip is reported once per (bucket, key, reason, version) in this process, and the store counts
// versions, not polls.
import type { Logger } from 'pino';

export const SKIP_REASONS = [
  /** No pipeline takes the key's suffix (not a media file Sluice knows). */
  'UNKNOWN_SUFFIX',
  /** No pipeline watches the key's folder (configured pipelines take keys under their prefixes only). */
  'OUTSIDE_PREFIX',
  /** A name tools give files still being written (.part, .tmp, ~, a leading dot). */
  'TEMP_NAME',
  /** A symbolic link: Sluice never follows links in buckets. */
  'SYMLINK',
  /** A settings file (jobs/*.json) that is not a valid template. */
  'INVALID_SETTINGS',
  /** A key Sluice refuses as an object key (see storage/object-key.ts). */
  'KEY_REFUSED',
  /** Ingest refused the object for good (the message names the error code). */
  'EVENT_REFUSED',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SkipNotice {
  bucket: string;
  key: string;
  reason: SkipReason;
  message: string;
  /** The object's etag when the reason depends on its content; null when the name alone decides. */
  version: string | null;
}

export interface SkipRecord extends Omit<SkipNotice, 'version'> {
  version: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Versions of the object skipped for this reason. */
  count: number;
}

/** A skip record as both job stores keep it (`ingest_skipped`; no version is stored as ''). */
export interface SkipRecordRow {
  bucket: string;
  key: string;
  reason: string;
  version: string;
  message: string;
  first_seen: string;
  last_seen: string;
  count: number;
}

export function skipRecordFromRow(r: SkipRecordRow): SkipRecord {
  return {
    bucket: r.bucket,
    key: r.key,
    reason: r.reason as SkipRecord['reason'],
    message: r.message,
    version: r.version === '' ? null : r.version,
    firstSeenAt: r.first_seen,
    lastSeenAt: r.last_seen,
    count: Number(r.count),
  };
}

export interface SkipRecordStore {
  /** Inserts, or for a new version bumps count and last seen; the same version again changes nothing. */
  recordSkip(notice: SkipNotice, now: Date): Promise<void>;
  /** Newest (last seen) first. */
  listSkipped(limit: number): Promise<SkipRecord[]>;
}

/** Memory bound of the per-process dedupe; past it the store's own version check still dedupes. */
const MAX_REMEMBERED = 10_000;

export class SkipLog {
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly store: SkipRecordStore,
    private readonly log: Logger,
  ) {}

  /** Never throws: a skip that cannot be recorded is logged, and the watcher goes on. */
  async report(n: SkipNotice): Promise<void> {
    const id = JSON.stringify([n.bucket, n.key, n.reason]);
    const version = n.version ?? '';
    if (this.reported.get(id) === version) return;
    if (this.reported.size >= MAX_REMEMBERED) this.reported.clear();
    this.reported.set(id, version);
    this.log.info(
      { bucket: n.bucket, key: n.key, reason: n.reason, version: n.version, detail: n.message },
      'object skipped: no job made',
    );
    try {
      await this.store.recordSkip(n, new Date());
    } catch (err) {
      this.reported.delete(id);
      this.log.error({ err, key: n.key, reason: n.reason }, 'skip record not written');
    }
  }

  list(limit: number): Promise<SkipRecord[]> {
    return this.store.listSkipped(limit);
  }
}
