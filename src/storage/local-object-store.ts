// Buckets as folders under `<data-dir>/buckets/`. Writes go to a temp file in the data directory and are
// renamed into place, so a reader (or the bucket watcher) never sees a half-written object.
//
// Symbolic links inside a bucket are never followed, whatever the operation: a link dropped into the
// watch folder (to a file or folder elsewhere, or `ln -s . loop`) would otherwise be transcoded and
// published, or written through. Every existing path component below the bucket folder is checked with
// lstat, the object itself is opened with O_NOFOLLOW, and (where /proc is there) the opened file's real
// path must be the expected one inside the bucket. Links at or above the bucket folder (the data
// directory itself on another disk, say) are the operator's choice and are allowed.
import { randomUUID } from 'node:crypto';
import { constants, createWriteStream, type Dirent, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import { validateBucketName, validateObjectKey } from './object-key.ts';
import { checkPutSize, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store.ts';

/** O_NONBLOCK too: opening a FIFO swapped in for a file must not hang the server. */
const OPEN_OBJECT = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** Files the store makes are the owner's only (finding 8): the data directory holds other people's media. */
const FILE_MODE = 0o600;
/** Links reported per bucket (by `list`, `reportLink`) are remembered so each is logged once while it stays. */
const MAX_REPORTED = 10_000;

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly log: Logger | null;
  private readonly reported = new Map<string, Set<string>>();
  /** Told of each link a listing skips, once while it stays (the ingest records of skipped objects). */
  onLinkSkipped: (bucket: string, key: string, target: string | null) => void = () => {};

  /** `log` receives what was skipped or refused because of a symbolic link. */
  constructor(dataDir: string, log?: Logger) {
    this.root = path.resolve(dataDir, 'buckets');
    this.tmpDir = path.resolve(dataDir, 'tmp');
    this.log = log ?? null;
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

  /** Each bucket's folder is there (a link is not a bucket); unlike ensureBucket, nothing is made. */
  async checkBuckets(buckets: string[]): Promise<void> {
    for (const bucket of buckets) {
      const dir = path.join(this.root, validateBucketName(bucket));
      const st = await fs.lstat(dir).catch(() => null);
      if (!st?.isDirectory()) {
        throw new SluiceError(
          'BUCKET_NOT_FOUND',
          `bucket ${bucket} is missing: no folder ${dir}; restarting the server makes it again`,
        );
      }
    }
  }

  async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    const { st } = await this.walk(bucket, key, 'stat');
    return st?.isFile() ? info(bucket, key, st) : null;
  }

  async list(bucket: string, prefix = ''): Promise<ObjectInfo[]> {
    const bucketDir = path.join(this.root, validateBucketName(bucket));
    const out: ObjectInfo[] = [];
    const links: string[] = [];
    // Our own walk rather than readdir({ recursive }): it must not descend through a link.
    const visit = async (dir: string, rel: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return; // removed while we walked
        throw err;
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isSymbolicLink()) {
          if (mayHold(key, prefix)) links.push(key);
        } else if (e.isDirectory()) {
          if (mayHold(key, prefix)) await visit(path.join(dir, e.name), key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const st = await fs.lstat(path.join(dir, e.name)).catch(() => null);
          if (st?.isFile()) out.push(info(bucket, key, st));
        }
      }
    };
    await visit(bucketDir, '');
    await this.reportSkipped(bucket, bucketDir, links, prefix === '');
    return out;
  }

  /**
   * A hard link when the file system allows it (instant, and a snapshot: replacing the object later
   * does not change what the job reads), else a copy of the file that was opened.
   */
  async download(bucket: string, key: string, toFile: string): Promise<void> {
    const { fh, file, st } = await this.openObject(bucket, key, 'download');
    try {
      // link(2) does not follow a link at `file`; the inode check makes sure the name still meant
      // the file we opened (and checked) when the hard link was made.
      const linked = await fs
        .link(file, toFile)
        .then(() => fs.lstat(toFile))
        .catch(() => null);
      if (linked?.isFile() && linked.ino === st.ino && linked.dev === st.dev) return;
      if (linked) await fs.rm(toFile, { force: true });
      await pipeline(
        fh.createReadStream({ start: 0, autoClose: false }),
        createWriteStream(toFile, { mode: FILE_MODE }),
      );
    } catch (err) {
      throw new SluiceError('STORAGE_FAILED', `could not read ${bucket}/${key}: ${(err as Error).message}`);
    } finally {
      await fh.close();
    }
  }

  async openRead(
    bucket: string,
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ info: ObjectInfo; stream: Readable }> {
    const { fh, st } = await this.openObject(bucket, key, 'read');
    const stream = fh.createReadStream({
      start: range?.start ?? 0,
      ...(range?.end !== undefined ? { end: range.end } : {}),
      autoClose: true,
    });
    return { info: info(bucket, key, st), stream };
  }

  async read(bucket: string, key: string, maxBytes: number): Promise<Buffer> {
    const { fh, st } = await this.openObject(bucket, key, 'read');
    try {
      if (st.size > maxBytes) {
        throw new SluiceError(
          'VALIDATION_FAILED',
          `object ${bucket}/${key} is ${st.size} bytes; at most ${maxBytes} are read`,
        );
      }
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  async upload(
    bucket: string,
    key: string,
    fromFile: string,
    o: { move?: boolean } = {},
  ): Promise<ObjectInfo> {
    const target = this.pathOf(bucket, key);
    // A link among a worker's files would be moved in as a link, or copied from wherever it points.
    const from = await fs.lstat(fromFile).catch(() => null);
    if (from?.isSymbolicLink()) throw this.refuse(bucket, key, null, 'upload', `its source ${fromFile}`);
    await this.walk(bucket, key, 'upload');
    const tmp = await this.tempFile();
    try {
      // A worker's own output files may be moved instead of copied (one rename when on the same disk).
      if (o.move) await fs.rename(fromFile, tmp).catch(() => fs.copyFile(fromFile, tmp));
      else await fs.copyFile(fromFile, tmp);
      await fs.chmod(tmp, FILE_MODE); // copyFile keeps the source's mode, whatever the umask
      return await this.publish(bucket, key, tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw storageError(bucket, key, err);
    }
  }

  async put(bucket: string, key: string, body: Readable, o: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.pathOf(bucket, key);
    await this.walk(bucket, key, 'put');
    const tmp = await this.tempFile();
    try {
      await pipeline(body, createWriteStream(tmp, { mode: FILE_MODE, flags: 'wx' }));
      checkPutSize((await fs.stat(tmp)).size, o);
      return await this.publish(bucket, key, tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw storageError(bucket, key, err);
    }
  }

  async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    const from = await this.walk(bucket, fromKey, 'move');
    const to = this.pathOf(bucket, toKey);
    await this.walk(bucket, toKey, 'move');
    try {
      await fs.mkdir(path.dirname(to), { recursive: true });
      await this.walk(bucket, toKey, 'move'); // a link made while the folders were created
      await fs.rename(from.file, to);
    } catch (err) {
      throw storageError(bucket, toKey, err);
    }
  }

  async remove(bucket: string, key: string): Promise<void> {
    const { file, st } = await this.walk(bucket, key, 'remove');
    if (!st?.isFile()) return;
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
    // rm -r itself unlinks links it meets inside the folder without following them.
    const { file } = await this.walk(bucket, trimmed, 'remove');
    await fs.rm(file, { recursive: true, force: true });
  }

  /** A scratch folder on the same disk as the buckets, so publishing a finished file is a rename. */
  async workDir(prefix: string): Promise<string> {
    await this.ensureTmp();
    return fs.mkdtemp(path.join(this.tmpDir, prefix));
  }

  private async tempFile(): Promise<string> {
    await this.ensureTmp();
    return path.join(this.tmpDir, `put-${randomUUID()}`);
  }

  private async ensureTmp(): Promise<void> {
    const st = await fs.lstat(this.tmpDir).catch(() => null);
    if (st?.isSymbolicLink()) {
      this.log?.warn({ dir: this.tmpDir }, 'symbolic link refused: the scratch folder is a link');
      throw new SluiceError(
        'SYMLINK_REFUSED',
        `${this.tmpDir} is a symbolic link; Sluice keeps its scratch files only in a real folder of the data directory: remove the link`,
      );
    }
    if (!st) await fs.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  private async publish(bucket: string, key: string, tmp: string, target: string): Promise<ObjectInfo> {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await this.walk(bucket, key, 'write'); // a link made while the folders were created
    // The etag is size + mtime, and the kernel stamps mtime from a coarse clock (milliseconds): two
    // versions of one size written within a tick would look like one, and the second make no job. Each
    // object this store writes gets a modification time of its own instead.
    const stamp = nextVersionStamp();
    await fs.utimes(tmp, stamp, stamp);
    await fs.rename(tmp, target);
    return info(bucket, key, await fs.lstat(target));
  }

  /**
   * Checks every existing component of `key` below the bucket folder with lstat; a link refuses the
   * operation. Returns the path and the last component's lstat (null when it does not exist).
   */
  private async walk(bucket: string, key: string, op: string): Promise<{ file: string; st: Stats | null }> {
    const file = this.pathOf(bucket, key);
    const parts = key.split('/');
    let at = path.join(this.root, bucket);
    for (let i = 0; i < parts.length; i++) {
      at = path.join(at, parts[i] as string);
      const st = await fs.lstat(at).catch((err) => {
        if (isMissing(err)) return null;
        throw storageError(bucket, key, err);
      });
      if (st?.isSymbolicLink()) throw this.refuse(bucket, key, parts.slice(0, i + 1).join('/'), op);
      if (!st) return { file, st: null };
      if (i === parts.length - 1) return { file, st };
      if (!st.isDirectory()) return { file, st: null };
    }
    return { file, st: null };
  }

  /** Opens an object for reading without following a link, and checks where the opened file really is. */
  private async openObject(
    bucket: string,
    key: string,
    op: string,
  ): Promise<{ fh: FileHandle; file: string; st: Stats }> {
    const notFound = () => new SluiceError('OBJECT_NOT_FOUND', `object ${bucket}/${key} does not exist`);
    const walked = await this.walk(bucket, key, op);
    if (!walked.st?.isFile()) throw notFound();
    let fh: FileHandle;
    try {
      fh = await fs.open(walked.file, OPEN_OBJECT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw this.refuse(bucket, key, key, op);
      if (isMissing(err)) throw notFound();
      throw new SluiceError('STORAGE_FAILED', `could not read ${bucket}/${key}: ${(err as Error).message}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw notFound();
      // Containment of the resolved path: a folder swapped for a link after the walk shows up here.
      const real = await fs.readlink(`/proc/self/fd/${fh.fd}`).catch(() => null);
      if (real !== null && !real.endsWith(' (deleted)')) {
        const expected = path.join(await fs.realpath(path.join(this.root, bucket)), ...key.split('/'));
        if (real !== expected) throw this.refuse(bucket, key, null, op, `it resolves to ${real}`);
      }
      return { fh, file: walked.file, st };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  private refuse(bucket: string, key: string, link: string | null, op: string, why?: string): SluiceError {
    const through = why ?? `${link === key ? 'it is' : `${link} is`} a symbolic link`;
    this.log?.warn({ bucket, key, link, op, why: through }, 'symbolic link refused: not followed');
    return new SluiceError(
      'SYMLINK_REFUSED',
      `${op} of ${bucket}/${key} refused: ${through}, and Sluice never follows symbolic links in buckets; copy or move the real file into the bucket instead`,
      { bucket, key, ...(link ? { link } : {}) },
    );
  }

  /** Reports a link met outside a listing (a watcher's event), once while it stays, as `list` does. */
  async reportLink(bucket: string, key: string): Promise<void> {
    const bucketDir = path.join(this.root, validateBucketName(bucket));
    await this.reportSkipped(bucket, bucketDir, [key], false);
  }

  /** Logs the links a listing skipped, each once while it stays there (a full listing forgets the gone). */
  private async reportSkipped(bucket: string, bucketDir: string, links: string[], full: boolean) {
    const known = this.reported.get(bucket) ?? new Set<string>();
    const next = full ? new Set<string>() : known;
    for (const key of links) {
      if (!known.has(key)) {
        const target = await fs.readlink(path.join(bucketDir, ...key.split('/'))).catch(() => null);
        this.log?.warn(
          { bucket, key, target },
          'symbolic link skipped: Sluice does not follow links in buckets; copy the real file in instead',
        );
        this.onLinkSkipped(bucket, key, target);
      }
      if (next.size < MAX_REPORTED) next.add(key);
    }
    this.reported.set(bucket, next);
  }
}

/** Whether a folder (or link) at `key` may hold objects under `prefix`. */
function mayHold(key: string, prefix: string): boolean {
  return `${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`) || key.startsWith(prefix);
}

let lastStampUs = 0;

/**
 * A modification time (seconds) later than any this process gave before, by at least 3 µs: seconds as
 * a double keep about a quarter of a microsecond near today, so 3 µs apart stay apart in the etag.
 */
function nextVersionStamp(): number {
  const nowUs = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastStampUs = Math.max(nowUs, lastStampUs + 3);
  return lastStampUs / 1e6;
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
