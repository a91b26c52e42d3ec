// Buckets as folders under `<data-dir>/buckets/`. Writes go to a temp file in the data directory and are
// renamed into place, so a reader (or the bucket watcher) never sees a half-written object.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SluiceError } from '../errors.ts';
import { validateBucketName, validateObjectKey } from './object-key.ts';
import { checkPutSize, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store.ts';

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  private readonly tmpDir: string;

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir, 'buckets');
    this.tmpDir = path.resolve(dataDir, 'tmp');
  }

  /** The file behind an object; the key is validated and the result checked to stay in its bucket. */
  pathOf(bucket: string, key: string): string {
    const bucketDir = path.join(this.root, validateBucketName(bucket));
    const file = path.join(bucketDir, ...validateObjectKey(key).split('/'));
    if (!file.startsWith(bucketDir + path.sep)) {
      throw new SluiceError('INVALID_OBJECT_KEY', `object key ${JSON.stringify(key)} leaves its bucket`);
    }
    return file;
  }

  async ensureBucket(bucket: string): Promise<string> {
    const dir = path.join(this.root, validateBucketName(bucket));
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    try {
      const st = await fs.stat(this.pathOf(bucket, key));
      return st.isFile() ? info(bucket, key, st) : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async list(bucket: string, prefix = ''): Promise<ObjectInfo[]> {
    const bucketDir = path.join(this.root, validateBucketName(bucket));
    let entries: string[];
    try {
      entries = await fs.readdir(bucketDir, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ObjectInfo[] = [];
    for (const rel of entries) {
      const key = rel.split(path.sep).join('/');
      if (!key.startsWith(prefix)) continue;
      try {
        const st = await fs.stat(path.join(bucketDir, rel));
        if (st.isFile()) out.push(info(bucket, key, st));
      } catch {
        // removed between readdir and stat
      }
    }
    return out;
  }

  /**
   * A hard link when the file system allows it (instant, and a snapshot: replacing the object later
   * does not change what the job reads), else a copy.
   */
  async download(bucket: string, key: string, toFile: string): Promise<void> {
    const from = this.pathOf(bucket, key);
    try {
      await fs.link(from, toFile).catch(() => fs.copyFile(from, toFile));
    } catch (err) {
      if (isMissing(err)) {
        throw new SluiceError('OBJECT_NOT_FOUND', `object ${bucket}/${key} does not exist`);
      }
      throw new SluiceError('STORAGE_FAILED', `could not read ${bucket}/${key}: ${(err as Error).message}`);
    }
  }

  async read(bucket: string, key: string, maxBytes: number): Promise<Buffer> {
    const file = this.pathOf(bucket, key);
    const st = await fs.stat(file).catch(() => null);
    if (!st?.isFile()) throw new SluiceError('OBJECT_NOT_FOUND', `object ${bucket}/${key} does not exist`);
    if (st.size > maxBytes) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        `object ${bucket}/${key} is ${st.size} bytes; at most ${maxBytes} are read`,
      );
    }
    return fs.readFile(file);
  }

  async upload(
    bucket: string,
    key: string,
    fromFile: string,
    o: { move?: boolean } = {},
  ): Promise<ObjectInfo> {
    const target = this.pathOf(bucket, key);
    const tmp = await this.tempFile();
    try {
      // A worker's own output files may be moved instead of copied (one rename when on the same disk).
      if (o.move) await fs.rename(fromFile, tmp).catch(() => fs.copyFile(fromFile, tmp));
      else await fs.copyFile(fromFile, tmp);
      return await this.publish(bucket, key, tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw storageError(bucket, key, err);
    }
  }

  async put(bucket: string, key: string, body: Readable, o: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.pathOf(bucket, key);
    const tmp = await this.tempFile();
    try {
      await pipeline(body, createWriteStream(tmp));
      checkPutSize((await fs.stat(tmp)).size, o);
      return await this.publish(bucket, key, tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw storageError(bucket, key, err);
    }
  }

  async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    const from = this.pathOf(bucket, fromKey);
    const to = this.pathOf(bucket, toKey);
    try {
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rename(from, to);
    } catch (err) {
      throw storageError(bucket, toKey, err);
    }
  }

  async remove(bucket: string, key: string): Promise<void> {
    const file = this.pathOf(bucket, key);
    await fs.rm(file, { force: true });
    // Folders the object leaves empty go too, up to the bucket (a folder is not an object).
    const bucketDir = path.join(this.root, validateBucketName(bucket));
    for (let dir = path.dirname(file); dir.startsWith(bucketDir + path.sep); dir = path.dirname(dir)) {
      if (
        !(await fs.rmdir(dir).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }

  async removePrefix(bucket: string, prefix: string): Promise<void> {
    const trimmed = prefix.replace(/\/+$/, '');
    if (!trimmed) throw new SluiceError('INVALID_OBJECT_KEY', 'refusing to remove a whole bucket');
    await fs.rm(this.pathOf(bucket, trimmed), { recursive: true, force: true });
  }

  /** A scratch folder on the same disk as the buckets, so publishing a finished file is a rename. */
  async workDir(prefix: string): Promise<string> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    return fs.mkdtemp(path.join(this.tmpDir, prefix));
  }

  private async tempFile(): Promise<string> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    return path.join(this.tmpDir, `put-${randomUUID()}`);
  }

  private async publish(bucket: string, key: string, tmp: string, target: string): Promise<ObjectInfo> {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(tmp, target);
    return info(bucket, key, await fs.stat(target));
  }
}

function info(bucket: string, key: string, st: { size: number; mtimeMs: number; mtime: Date }): ObjectInfo {
  return {
    bucket,
    key,
    size: st.size,
    etag: `${st.size.toString(16)}-${Math.floor(st.mtimeMs * 1000).toString(16)}`,
    lastModified: st.mtime.toISOString(),
  };
}

/** ENOTDIR too: `clip.mp4/poster.jpg` when `clip.mp4` is a file is simply not there. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function storageError(bucket: string, key: string, err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  return new SluiceError('STORAGE_FAILED', `could not write ${bucket}/${key}: ${(err as Error).message}`);
}
