// A remote pull worker's storage: nothing but the URLs its assignment grants, each authorized by the
// attempt's lease token and refused by the server once the attempt lost its lease or ended. The input is
// read with GET (resumed with Range after a broken connection), outputs are PUT one file at a time, and
// the server swaps the entry points in (publish) or drops what the attempt wrote (discard). Relative URLs
// resolve against the server's (the current one of a worker's replicas: server-list.ts, so a call that
// finds its server gone is sent to another); absolute ones are used as given.
// When the assignment has a `presign` URL (the server's store is S3), the input is read and the outputs
// are written with presigned object-store URLs the server issues under the lease (a fresh one for each
// try), so the bytes go straight between this worker and the store; publish and discard stay server-side.
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isErrorCode, SluiceError } from '../errors.ts';
import type { JobOutput, ObjectRef } from '../jobs/job.ts';
import type { ObjectInfo } from '../storage/object-store.ts';
import type { AttemptStorage } from './attempt-storage.ts';
import type { PublishItem } from './outputs.ts';
import { ServerList } from './server-list.ts';

/** The storage URLs an assignment carries. */
export interface AttemptUrls {
  /** GET: the input's current version (ObjectInfo), 404 when gone. */
  inputStat: string;
  /** GET: the input's bytes (Range accepted). */
  input: string;
  /** PUT `<outputs>/<key relative to the output set>`: a version file, or an entry point to stage. */
  outputs: string;
  /** POST `{ entries }`: swap the staged entry points in, in that order, and remove the old set. */
  publish: string;
  /** POST: remove what this attempt wrote (its version folder, its staged entry points). */
  discard: string;
  /** POST `{ input?, outputs? }`: presigned object-store requests for the input and output keys. */
  presign?: string;
  /** PUT/GET `<parts>/<part name>/<file>`: the parent's parts area, for a part of a chunked job. */
  parts?: string;
}

interface Presigned {
  url: string;
  method: 'GET' | 'PUT';
  headers: Record<string, string>;
}

/** Output URLs asked for in one presign call. */
const PRESIGN_BATCH = 100;

const TRIES = 6;
const FIRST_PAUSE_MS = 200;

export class RemoteObjectStore implements AttemptStorage {
  private readonly servers: ServerList;

  constructor(
    server: string | ServerList,
    private readonly urls: AttemptUrls,
    private readonly leaseToken: string,
    private readonly input: ObjectRef,
    private readonly scratchDir: string = os.tmpdir(),
  ) {
    this.servers = typeof server === 'string' ? new ServerList(server) : server;
  }

  async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    this.requireInput(bucket, key);
    return this.retrying('input stat', async () => {
      const res = await this.fetch(this.urls.inputStat, { method: 'GET' });
      if (res.status === 404) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        if (body.code === 'OBJECT_NOT_FOUND') return null;
        throw problem('input stat', res.status, body);
      }
      return (await this.json(res, 'input stat')) as ObjectInfo;
    });
  }

  async download(bucket: string, key: string, toFile: string): Promise<void> {
    this.requireInput(bucket, key);
    await fs.writeFile(toFile, '', { mode: 0o600 });
    let total: number | null = null;
    await this.retrying('input download', async () => {
      const have = (await fs.stat(toFile)).size;
      if (total !== null && have >= total) return;
      const from: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
      const direct = this.urls.presign ? (await this.presigned({ input: true })).input : undefined;
      const res = direct
        ? await this.direct(direct, { method: 'GET', headers: { ...direct.headers, ...from } })
        : await this.fetch(this.urls.input, { method: 'GET', headers: from });
      if (!res.ok && direct) {
        const text = (await res.text().catch(() => '')).slice(0, 300);
        const err = new SluiceError('STORAGE_FAILED', `the object store answered ${res.status}: ${text}`);
        // A throttled or failing store is tried again (with a fresh URL), as the SDK would.
        throw res.status >= 500 || res.status === 429 ? unreachable('input download', err) : err;
      }
      if (!res.ok) throw problem('input download', res.status, await res.json().catch(() => ({})));
      if (have > 0 && res.status !== 206) await fs.truncate(toFile, 0); // no range support: start over
      const length = Number(res.headers.get('content-length'));
      const range = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      total = range ? Number(range[1]) : Number.isFinite(length) ? length : null;
      if (!res.body) throw new SluiceError('STORAGE_FAILED', 'the input download had no body');
      try {
        await pipeline(
          Readable.fromWeb(res.body as never),
          createWriteStream(toFile, { flags: res.status === 206 ? 'a' : 'w', mode: 0o600 }),
        );
      } catch (err) {
        throw unreachable('input download', err);
      }
      const size = (await fs.stat(toFile)).size;
      if (total !== null && size !== total)
        throw unreachable('input download', new Error(`got ${size} of ${total} bytes`));
    });
  }

  async workDir(prefix: string): Promise<string> {
    await fs.mkdir(this.scratchDir, { recursive: true, mode: 0o700 });
    return fs.mkdtemp(path.join(this.scratchDir, prefix));
  }

  async publish(
    bucket: string,
    set: string,
    items: PublishItem[],
    _attempt: { jobId: string; attempt: number },
    stillWanted: () => boolean,
  ): Promise<{ outputs: JobOutput[]; segmentBytes: number }> {
    const outputs: JobOutput[] = [];
    let segmentBytes = 0;
    let published = false;
    let urls: Record<string, Presigned> = {};
    try {
      for (const [i, item] of items.entries()) {
        if (!stillWanted()) throw new Error('attempt stopped while uploading');
        if (this.urls.presign && !urls[item.key]) {
          const batch = items.slice(i, i + PRESIGN_BATCH).map((x) => x.key);
          urls = (await this.presigned({ outputs: batch })).outputs ?? {};
        }
        const info = await this.put(item, urls[item.key]);
        if (item.type) outputs.push({ type: item.type, bucket, key: `${set}/${item.key}`, size: info.size });
        else segmentBytes += info.size;
        await fs.rm(item.file, { force: true }); // given up, as a local upload with `move` does
      }
      if (!stillWanted()) throw new Error('attempt stopped before publishing');
      published = true;
      const entries = items.filter((i) => i.stage === 'entry').map((i) => i.key);
      await this.retrying('publish', async () => {
        await this.json(
          await this.fetch(this.urls.publish, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ entries }),
          }),
          'publish',
        );
      });
      return { outputs, segmentBytes };
    } finally {
      if (!published) {
        await this.fetch(this.urls.discard, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }).catch(() => {});
      }
    }
  }

  async putPart(_bucket: string, _parentId: string, rel: string, file: string): Promise<void> {
    await this.retrying(`upload of part file ${rel}`, async () => {
      const size = (await fs.stat(file)).size;
      const res = await this.fetch(
        this.partUrl(rel),
        () =>
          ({
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
            body: Readable.toWeb(createReadStream(file)) as ReadableStream,
            duplex: 'half',
          }) as RequestInit,
      );
      await this.json(res, `upload of part file ${rel}`);
    });
  }

  async getPart(_bucket: string, _parentId: string, rel: string, toFile: string): Promise<boolean> {
    return this.retrying(`read of part file ${rel}`, async () => {
      const res = await this.fetch(this.partUrl(rel), { method: 'GET' });
      if (res.status === 404) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        if (body.code === 'OBJECT_NOT_FOUND') return false;
        throw problem(`read of part file ${rel}`, res.status, body);
      }
      if (!res.ok) throw problem(`read of part file ${rel}`, res.status, await res.json().catch(() => ({})));
      if (!res.body) throw new SluiceError('STORAGE_FAILED', `the read of part file ${rel} had no body`);
      try {
        await pipeline(Readable.fromWeb(res.body as never), createWriteStream(toFile, { mode: 0o600 }));
      } catch (err) {
        throw unreachable(`read of part file ${rel}`, err);
      }
      const length = Number(res.headers.get('content-length'));
      const size = (await fs.stat(toFile)).size;
      if (Number.isFinite(length) && size !== length) {
        throw unreachable(`read of part file ${rel}`, new Error(`got ${size} of ${length} bytes`));
      }
      return true;
    });
  }

  private partUrl(rel: string): string {
    if (!this.urls.parts) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        'this assignment has no parts area: it is not a part of a chunked job',
      );
    }
    return `${this.urls.parts.replace(/\/$/, '')}/${rel.split('/').map(encodeURIComponent).join('/')}`;
  }

  private put(item: PublishItem, presigned?: Presigned): Promise<ObjectInfo> {
    if (presigned) return this.putDirect(item, presigned);
    const url = `${this.urls.outputs.replace(/\/$/, '')}/${item.key.split('/').map(encodeURIComponent).join('/')}`;
    return this.retrying(`upload of ${item.key}`, async () => {
      const size = (await fs.stat(item.file)).size;
      // A fresh stream for each server tried: a body that was sent (in part) cannot be sent again.
      const res = await this.fetch(
        url,
        () =>
          ({
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
            body: Readable.toWeb(createReadStream(item.file)) as ReadableStream,
            duplex: 'half',
          }) as RequestInit,
      );
      return (await this.json(res, `upload of ${item.key}`)) as ObjectInfo;
    });
  }

  /** One output PUT straight to the store; a URL that expired meanwhile is asked for again. */
  private async putDirect(item: PublishItem, first: Presigned): Promise<ObjectInfo> {
    let presigned = first;
    return this.retrying(`upload of ${item.key}`, async () => {
      const size = (await fs.stat(item.file)).size;
      let res = await this.sendFile(presigned, item.file, size);
      if (res.status === 403) {
        await res.body?.cancel();
        const again = (await this.presigned({ outputs: [item.key] })).outputs?.[item.key];
        if (!again) throw new SluiceError('STORAGE_FAILED', `no presigned URL for ${item.key}`);
        presigned = again;
        res = await this.sendFile(presigned, item.file, size);
      }
      const text = await res.text().catch(() => '');
      if (!res.ok) {
        const err = new SluiceError(
          'STORAGE_FAILED',
          `upload of ${item.key} to the object store answered ${res.status}: ${text.slice(0, 300)}`,
        );
        // A throttled or failing store is tried again, as the SDK would.
        if (res.status >= 500 || res.status === 429) throw unreachable(`upload of ${item.key}`, err);
        throw err;
      }
      const etag = (res.headers.get('etag') ?? '').replace(/^(W\/)?"|"$/g, '');
      const key = (presigned as Presigned & { key?: string }).key ?? item.key;
      return { bucket: '', key, size, etag, lastModified: new Date().toISOString() };
    });
  }

  private sendFile(p: Presigned, file: string, size: number): Promise<Response> {
    return this.direct(p, {
      method: 'PUT',
      headers: { ...p.headers, 'content-length': String(size) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  }

  /** A request to a presigned URL: no bearer token (the URL is the authorization). */
  private async direct(p: Presigned, init: RequestInit): Promise<Response> {
    try {
      return await fetch(p.url, init);
    } catch (err) {
      throw unreachable(`${init.method ?? 'GET'} at the object store`, err);
    }
  }

  private async presigned(body: {
    input?: boolean;
    outputs?: string[];
  }): Promise<{ input?: Presigned; outputs?: Record<string, Presigned> }> {
    const url = this.urls.presign as string;
    return this.retrying('presign', async () => {
      const res = await this.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await this.json(res, 'presign')) as { input?: Presigned; outputs?: Record<string, Presigned> };
    });
  }

  private requireInput(bucket: string, key: string): void {
    if (bucket !== this.input.bucket || key !== this.input.key) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        `a remote attempt reads only its job's input (${this.input.bucket}/${this.input.key}), not ${bucket}/${key}`,
      );
    }
  }

  private async fetch(url: string, request: RequestInit | (() => RequestInit)): Promise<Response> {
    let method = 'GET';
    const init = () => {
      const r = typeof request === 'function' ? request() : request;
      method = r.method ?? 'GET';
      return {
        ...r,
        headers: { ...(r.headers as Record<string, string>), authorization: `Bearer ${this.leaseToken}` },
      };
    };
    try {
      return await this.servers.fetch(url, init);
    } catch (err) {
      throw unreachable(method, err);
    }
  }

  private async json(res: Response, what: string): Promise<unknown> {
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw problem(what, res.status, body);
    return body;
  }

  /** Transient failures (no answer, a broken transfer) are tried again with backoff; refusals are not. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let pause = FIRST_PAUSE_MS;
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof SluiceError && err.code === 'SERVER_UNREACHABLE')) throw err;
        if (i >= TRIES) throw new SluiceError(err.code, `${what}: ${err.message} (after ${TRIES} tries)`);
        await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random() / 2)));
        pause *= 2;
      }
    }
  }
}

function unreachable(what: string, err: unknown): SluiceError {
  return new SluiceError('SERVER_UNREACHABLE', `${what} failed: ${(err as Error).message}`);
}

function problem(what: string, status: number, body: Record<string, unknown>): SluiceError {
  const code = isErrorCode(body.code) ? body.code : status >= 500 ? 'STORAGE_FAILED' : 'INTERNAL';
  return new SluiceError(code, String(body.detail ?? `${what} answered ${status}`));
}
