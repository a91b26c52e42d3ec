// The ObjectStore seam: buckets of objects addressed by validated keys. Local folders today, S3 later.
import type { Readable } from 'node:stream';
import { SluiceError } from '../errors.ts';

export interface ObjectInfo {
  bucket: string;
  key: string;
  size: number;
  /** Changes whenever the object's content may have changed (local: size + mtime). */
  etag: string;
  lastModified: string;
}

export interface PutOptions {
  /** The body must be exactly this long (a declared Content-Length): UPLOAD_INCOMPLETE otherwise. */
  expectedBytes?: number;
  /** Fewer bytes than this is INPUT_EMPTY. */
  minBytes?: number;
}

/** The size check `put` makes before an object becomes visible. */
export function checkPutSize(size: number, o: PutOptions): void {
  if (o.minBytes !== undefined && size < o.minBytes) {
    throw new SluiceError('INPUT_EMPTY', `the upload is ${size} bytes; nothing was stored`);
  }
  if (o.expectedBytes !== undefined && size !== o.expectedBytes) {
    throw new SluiceError(
      'UPLOAD_INCOMPLETE',
      `the upload ended after ${size} of the ${o.expectedBytes} bytes it declared; nothing was stored`,
    );
  }
}

/** A request its holder may make without credentials until it expires (an S3 presigned URL). */
export interface PresignedRequest {
  url: string;
  method: 'GET' | 'PUT';
  /** Headers the request must carry as given (they are part of the signature). */
  headers: Record<string, string>;
}

export interface ObjectStore {
  stat(bucket: string, key: string): Promise<ObjectInfo | null>;
  /** Every object under a prefix, in no particular order. */
  list(bucket: string, prefix?: string): Promise<ObjectInfo[]>;
  download(bucket: string, key: string, toFile: string): Promise<void>;
  /**
   * An object's bytes as a stream, from `range.start` to `range.end` (inclusive) when given: what the
   * Worker API serves a remote worker. `info` is the object as opened.
   */
  openRead(
    bucket: string,
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ info: ObjectInfo; stream: Readable }>;
  /** A small object's bytes (settings files); refuses objects larger than `maxBytes`. */
  read(bucket: string, key: string, maxBytes: number): Promise<Buffer>;
  /** `move`: the caller gives the file up, so the store may take it instead of copying it. */
  upload(bucket: string, key: string, fromFile: string, o?: { move?: boolean }): Promise<ObjectInfo>;
  /** Renames an object within a bucket (local: one atomic rename; S3: copy + delete). */
  move(bucket: string, fromKey: string, toKey: string): Promise<void>;
  /** Deletes one object; a missing one is not an error. */
  remove(bucket: string, key: string): Promise<void>;
  /** Deletes every object under a prefix (a folder-like `a/b/`). */
  removePrefix(bucket: string, prefix: string): Promise<void>;
  /** A scratch folder for a worker, ideally on the same disk as the store (moves instead of copies). */
  workDir(prefix: string): Promise<string>;
  /**
   * Writes a stream as one object; the object appears only once it is complete, and not at all (an
   * existing object of that key untouched) when the stream fails or its size is not what `o` expects.
   */
  put(bucket: string, key: string, body: Readable, o?: PutOptions): Promise<ObjectInfo>;
  /**
   * True where every put and upload replaces its object atomically (a reader gets the old bytes or the
   * new, never a mix: S3): publishing then writes entry points straight over their stable names.
   */
  readonly replacesAtomically?: boolean;
  /**
   * Optional: a URL through which a remote worker reads (GET) or writes (PUT) one object directly, so
   * its bytes need not pass through the control plane. Stores without it (local folders) are served
   * through the Worker API.
   */
  presign?(
    bucket: string,
    key: string,
    method: 'GET' | 'PUT',
    expiresSeconds: number,
  ): Promise<PresignedRequest>;
  /** Optional: each bucket exists and answers, without making it (BUCKET_NOT_FOUND, …; GET /v1/ready). */
  checkBuckets?(buckets: string[]): Promise<void>;
}
