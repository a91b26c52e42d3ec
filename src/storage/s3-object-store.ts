// Buckets on an S3-compatible object store (AWS S3, OCI Object Storage's S3 API, MinIO, R2…) through the
// AWS SDK. Every key is validated before any request. Writes go through lib-storage's Upload (multipart
// above one part), fed through a byte counter: a body that fails, or whose size is not what the caller
// declared, errors the stream before the upload completes, so the upload is aborted and nothing becomes
// visible (an object of that key keeps its old version). Each object gets the Content-Type and
// Cache-Control of its suffix and place (content-type.ts). A "move" is a copy then a delete, each one
// atomic per object: what publishing relies on (worker/publish.ts writes manifests last).
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import { objectHeadersOf } from './content-type.ts';
import { validateBucketName, validateObjectKey } from './object-key.ts';
import {
  checkPutSize,
  type ObjectInfo,
  type ObjectStore,
  type PresignedRequest,
  type PutOptions,
} from './object-store.ts';

export interface S3ObjectStoreOptions {
  /** An S3-compatible endpoint (MinIO, OCI, R2, s3rver); absent: AWS S3 for the region. */
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  /** Absent: the SDK's default credential chain (AWS_* env, shared config/profile, web identity, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Tries per request, the first included (throttling, 5xx and connection errors are retried). */
  maxAttempts?: number;
  /** Multipart part size for large puts (bytes, at least 5 MiB). */
  partSize?: number;
  /** Keys per ListObjectsV2 page (1-1000). */
  pageSize?: number;
  /** Where workDir makes scratch folders; default the system's temp folder. */
  scratchDir?: string;
  /** Per-request timeout for connecting (ms). */
  connectionTimeoutMs?: number;
  /** A request whose socket stays silent this long fails (and is retried): a stuck store never hangs a job. */
  requestTimeoutMs?: number;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** DeleteObjects takes at most 1000 keys a call. */
const DELETE_BATCH = 1000;

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  /** A PUT (or a completed multipart upload) replaces its object at once, as a whole. */
  readonly replacesAtomically: boolean = true;
  private readonly partSize: number;
  private readonly pageSize: number;
  private readonly scratchDir: string;
  private readonly where: string;

  constructor(
    o: S3ObjectStoreOptions,
    private readonly log?: Logger,
  ) {
    const config: S3ClientConfig = {
      region: o.region,
      forcePathStyle: o.forcePathStyle ?? false,
      maxAttempts: o.maxAttempts ?? 5,
      // Standard retries with client-side rate limiting: backs off on throttling (503 SlowDown, 429) and
      // retries 5xx and connection errors with jittered exponential delays.
      retryMode: 'standard',
      // Checksums only where an operation requires one: several S3-compatible stores (and s3rver) do
      // not know the newer x-amz-checksum-* headers. Integrity is still the TLS stream's and the sizes'.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: o.connectionTimeoutMs ?? 5000,
        requestTimeout: o.requestTimeoutMs ?? 30_000,
        // Without it the request timeout only logs a warning and the request waits on for ever (a stuck
        // connection held a publish for 20 minutes); with it the request fails and the retry policy resends.
        throwOnRequestTimeout: true,
      },
    };
    if (o.endpoint) config.endpoint = o.endpoint;
    if (o.credentials) config.credentials = o.credentials;
    this.client = new S3Client(config);
    this.partSize = Math.max(MIN_PART_SIZE, o.partSize ?? DEFAULT_PART_SIZE);
    this.pageSize = Math.min(1000, Math.max(1, o.pageSize ?? 1000));
    this.scratchDir = o.scratchDir ?? os.tmpdir();
    this.where = o.endpoint ?? `AWS S3 (${o.region})`;
  }

  /** Start-up check: each bucket answers HeadBucket (exists, reachable, credentials allowed). */
  async checkBuckets(buckets: string[]): Promise<void> {
    for (const bucket of buckets) {
      validateBucketName(bucket);
      await this.call(bucket, '', 'check', () => this.client.send(new HeadBucketCommand({ Bucket: bucket })));
    }
  }

  async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    checkKey(bucket, key);
    try {
      const h = await this.call(bucket, key, 'stat', () =>
        this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      );
      return infoOf(bucket, key, h.ContentLength, h.ETag, h.LastModified);
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'OBJECT_NOT_FOUND') return null;
      throw err;
    }
  }

  async list(bucket: string, prefix = ''): Promise<ObjectInfo[]> {
    validateBucketName(bucket);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(bucket, prefix, 'list', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(prefix ? { Prefix: prefix } : {}),
            MaxKeys: this.pageSize,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push(infoOf(bucket, o.Key, o.Size, o.ETag, o.LastModified));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async download(bucket: string, key: string, toFile: string): Promise<void> {
    const { stream } = await this.openRead(bucket, key);
    try {
      await pipeline(stream, createWriteStream(toFile, { mode: 0o600 }));
    } catch (err) {
      throw failed(bucket, key, 'read', err);
    }
  }

  async openRead(
    bucket: string,
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ info: ObjectInfo; stream: Readable }> {
    checkKey(bucket, key);
    const r = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
    const res = await this.call(bucket, key, 'read', () =>
      this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(r ? { Range: r } : {}) })),
    );
    const total = /\/(\d+)$/.exec(res.ContentRange ?? '');
    const size = total ? Number(total[1]) : res.ContentLength;
    return {
      info: infoOf(bucket, key, size, res.ETag, res.LastModified),
      stream: res.Body as Readable,
    };
  }

  async read(bucket: string, key: string, maxBytes: number): Promise<Buffer> {
    const { info, stream } = await this.openRead(bucket, key);
    const tooBig = (size: number) =>
      new SluiceError(
        'VALIDATION_FAILED',
        `object ${bucket}/${key} is ${size} bytes; at most ${maxBytes} are read`,
      );
    if (info.size > maxBytes) {
      stream.destroy();
      throw tooBig(info.size);
    }
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const chunk of stream) {
      got += (chunk as Buffer).length;
      if (got > maxBytes) {
        stream.destroy();
        throw tooBig(got);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async upload(
    bucket: string,
    key: string,
    fromFile: string,
    o: { move?: boolean } = {},
  ): Promise<ObjectInfo> {
    checkKey(bucket, key);
    const st = await fs.lstat(fromFile);
    if (st.isSymbolicLink()) {
      throw new SluiceError(
        'SYMLINK_REFUSED',
        `upload of ${bucket}/${key} refused: its source ${fromFile} is a symbolic link`,
      );
    }
    const info = await this.put(bucket, key, createReadStream(fromFile), { expectedBytes: st.size });
    if (o.move) await fs.rm(fromFile, { force: true });
    return info;
  }

  async put(bucket: string, key: string, body: Readable, o: PutOptions = {}): Promise<ObjectInfo> {
    checkKey(bucket, key);
    let size = 0;
    let bodyError = null as Error | null;
    // Counts the bytes; a body longer than declared fails at once, a short or empty one at its end,
    // before the upload's last request, so the object never appears.
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (o.expectedBytes !== undefined && size > o.expectedBytes) {
          done(
            new SluiceError(
              'UPLOAD_INCOMPLETE',
              `the upload is longer than the ${o.expectedBytes} bytes it declared; nothing was stored`,
            ),
          );
        } else done(null, chunk);
      },
      flush(done) {
        try {
          checkPutSize(size, o);
          done();
        } catch (err) {
          done(err as Error);
        }
      },
    });
    body.on('error', (err) => counter.destroy(err));
    counter.on('error', (err) => {
      bodyError ??= err;
    });
    body.pipe(counter);
    const { contentType, cacheControl } = objectHeadersOf(key);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: counter,
        ContentType: contentType,
        CacheControl: cacheControl,
      },
      partSize: this.partSize,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      body.unpipe(counter);
      body.destroy();
      if (bodyError === null) throw mapError(err, bucket, key, 'write', this.where);
      if (bodyError !== err) {
        // The body failed, and aborting the multipart upload failed too: the store keeps the parts of
        // an upload never completed until a lifecycle rule removes them (docs/storage.md).
        this.log?.warn(
          { bucket, key, err: (err as Error).message },
          'aborting a failed multipart upload failed',
        );
      }
      // The body failed (short, too long, or the client went away): nothing was completed.
      if (bodyError instanceof SluiceError) throw bodyError;
      throw new SluiceError(
        'STORAGE_FAILED',
        `could not write ${bucket}/${key}: ${(bodyError as Error).message}`,
      );
    }
    const info = await this.stat(bucket, key);
    if (!info) throw new SluiceError('STORAGE_FAILED', `${bucket}/${key} was written but is not there`);
    return info;
  }

  async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    checkKey(bucket, fromKey);
    checkKey(bucket, toKey);
    const { contentType, cacheControl } = objectHeadersOf(toKey);
    await this.call(bucket, fromKey, 'move', () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: toKey,
          CopySource: `${bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`,
          // The headers of the new name (a staged manifest is cached as a manifest).
          MetadataDirective: 'REPLACE',
          ContentType: contentType,
          CacheControl: cacheControl,
        }),
      ),
    );
    await this.remove(bucket, fromKey);
  }

  async remove(bucket: string, key: string): Promise<void> {
    checkKey(bucket, key);
    await this.call(bucket, key, 'remove', () =>
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  async removePrefix(bucket: string, prefix: string): Promise<void> {
    const trimmed = prefix.replace(/\/+$/, '');
    if (!trimmed) throw new SluiceError('INVALID_OBJECT_KEY', 'refusing to remove a whole bucket');
    validateObjectKey(trimmed);
    const keys = (await this.list(bucket, `${trimmed}/`)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const res = await this.call(bucket, trimmed, 'remove', () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const errors = res.Errors ?? [];
      if (errors.length > 0) {
        throw new SluiceError(
          'STORAGE_FAILED',
          `could not remove ${errors.length} object(s) under ${bucket}/${trimmed}/: ${errors[0]?.Code} ${errors[0]?.Message ?? ''}`,
        );
      }
    }
  }

  /** A local scratch folder: S3 has no same-disk rename, so finished files are uploaded from here. */
  async workDir(prefix: string): Promise<string> {
    await fs.mkdir(this.scratchDir, { recursive: true, mode: 0o700 });
    return fs.mkdtemp(path.join(this.scratchDir, prefix));
  }

  /**
   * A URL that lets its holder GET or PUT one object for `expiresSeconds`, without credentials: what a
   * remote worker reads its input and writes its outputs with. A PUT must send the headers returned.
   */
  async presign(
    bucket: string,
    key: string,
    method: 'GET' | 'PUT',
    expiresSeconds: number,
  ): Promise<PresignedRequest> {
    checkKey(bucket, key);
    if (method === 'GET') {
      const url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
        expiresIn: expiresSeconds,
      });
      return { url, method, headers: {} };
    }
    const { contentType, cacheControl } = objectHeadersOf(key);
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        ContentType: contentType,
        CacheControl: cacheControl,
      }),
      { expiresIn: expiresSeconds, signableHeaders: new Set(['content-type', 'cache-control']) },
    );
    return { url, method, headers: { 'content-type': contentType, 'cache-control': cacheControl } };
  }

  close(): void {
    this.client.destroy();
  }

  private async call<R>(bucket: string, key: string, op: string, fn: () => Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (err) {
      const mapped = mapError(err, bucket, key, op, this.where);
      if (mapped.code !== 'OBJECT_NOT_FOUND') {
        this.log?.warn(
          { bucket, key, op, code: mapped.code, err: (err as Error).message },
          'storage request failed',
        );
      }
      throw mapped;
    }
  }
}

function checkKey(bucket: string, key: string): void {
  validateBucketName(bucket);
  validateObjectKey(key);
}

function infoOf(
  bucket: string,
  key: string,
  size: number | undefined,
  etag: string | undefined,
  lastModified: Date | undefined,
): ObjectInfo {
  return {
    bucket,
    key,
    size: size ?? 0,
    etag: (etag ?? '').replace(/^(W\/)?"|"$/g, ''),
    lastModified: (lastModified ?? new Date(0)).toISOString(),
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

function isNetwork(err: unknown): boolean {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  return (
    NETWORK_CODES.has(e.code ?? '') ||
    NETWORK_CODES.has(e.cause?.code ?? '') ||
    e.name === 'TimeoutError' ||
    e.name === 'RequestTimeout'
  );
}

/** An SDK failure as a SluiceError of the catalogue, with what to check. */
export function mapError(err: unknown, bucket: string, key: string, op: string, where: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? '';
  const what = key ? `${bucket}/${key}` : bucket;
  if (name === 'NoSuchBucket') {
    return new SluiceError(
      'BUCKET_NOT_FOUND',
      `bucket ${bucket} does not exist at ${where}; create it, or name an existing one with SLUICE_SOURCE_BUCKET / SLUICE_DESTINATION_BUCKET`,
      { bucket },
    );
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    if (op === 'check') {
      return new SluiceError(
        'BUCKET_NOT_FOUND',
        `bucket ${bucket} does not exist at ${where}; create it, or name an existing one with SLUICE_SOURCE_BUCKET / SLUICE_DESTINATION_BUCKET`,
        { bucket },
      );
    }
    return new SluiceError('OBJECT_NOT_FOUND', `object ${what} does not exist`);
  }
  if (status === 416 || name === 'InvalidRange') {
    return new SluiceError('VALIDATION_FAILED', `the range asked of ${what} is beyond its end`);
  }
  if (
    status === 403 ||
    name === 'AccessDenied' ||
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch'
  ) {
    return new SluiceError(
      'STORAGE_ACCESS_DENIED',
      `${op} of ${what} was refused by ${where} (${name || status}): check the credentials (SLUICE_S3_ACCESS_KEY_ID / SLUICE_S3_SECRET_ACCESS_KEY or the AWS credential chain) and that their policy allows this bucket (docs/storage.md)`,
      { bucket },
    );
  }
  if (isNetwork(err) || (status === undefined && !(err instanceof S3ServiceException))) {
    return new SluiceError(
      'STORAGE_UNREACHABLE',
      `cannot reach the object store at ${where} for ${op} of ${what}: ${e.message ?? name}; check SLUICE_S3_ENDPOINT / SLUICE_S3_REGION and the network`,
      { bucket },
    );
  }
  return new SluiceError(
    'STORAGE_FAILED',
    `${op} of ${what} failed at ${where}: ${name}${status ? ` (HTTP ${status})` : ''} ${e.message ?? ''}`.trim(),
    { bucket },
  );
}

function failed(bucket: string, key: string, op: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  return new SluiceError('STORAGE_FAILED', `could not ${op} ${bucket}/${key}: ${(err as Error).message}`);
}
