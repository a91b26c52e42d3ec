// The watcher's ledger of seen object versions: which (bucket, key, etag) the source watch handed to
// ingest, or left alone for good (a refused event). It outlives the process, so a restart, or a reconcile
// of a bucket of 10,000 objects, hands nothing to ingest again: the reconcile loads a bucket's ledger in
// one query and compares it with the listing. For a store that sends no notifications (S3 without events)
// this ledger is the persisted cursor of the bucket poller. One row per key: a new version replaces it.

/** A bucket's ledger: the etag last handed on for each key. */
export type SeenVersions = Map<string, string>;

export interface SeenObjectStore {
  /** Every key of the bucket in the ledger with its etag (one query). */
  seenObjects(bucket: string): Promise<SeenVersions>;
  /** The etag of the key's version last handed on, or null. */
  seenVersion(bucket: string, key: string): Promise<string | null>;
  /** Records (or replaces) the key's version as handed on. */
  markSeen(bucket: string, key: string, etag: string, now: Date): Promise<void>;
  /** Forgets keys that are gone from the bucket; returns how many entries went. */
  forgetSeen(bucket: string, keys: readonly string[]): Promise<number>;
}

/** A row of `ingest_seen`, the same in both job stores. */
export interface IngestSeenTable {
  bucket: string;
  key: string;
  etag: string;
  seen_at: string;
}
