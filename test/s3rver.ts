// A real S3-protocol server for tests: s3rver (in a child process: s3rver-process.mjs) on 127.0.0.1, port
// 0, over a temp directory, with a small
// loopback proxy in front that records each request (method, path) and can answer the next N requests
// 503 SlowDown, as a throttling S3 would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/storage/s3-object-store.ts';
import { waitFor } from './helpers.ts';

type T = { after: (fn: () => Promise<void>) => void };

export interface S3Server {
  /** The proxy's URL: what clients use. */
  endpoint: string;
  /** s3rver's own URL, past the proxy. */
  directEndpoint: string;
  /** The s3rver child process (for its CPU in bench/). */
  pid: number;
  /** Every request the proxy forwarded or refused, in order. */
  requests: { method: string; path: string; status: number; presigned: boolean }[];
  /** The next `n` requests are answered with this error (503 SlowDown by default) without reaching s3rver. */
  failNext(n: number, error?: { status: number; code: string }): void;
  /** The next `n` requests are read and never answered (a stuck connection); the socket stays open. */
  stallNext(n: number): void;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** s3rver's fixed credentials (it checks signatures made with them). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3rver(t: T, buckets: string[] = ['source', 'destination']): Promise<S3Server> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-s3rver-'));
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', path.join(import.meta.dirname, 's3rver-process.mjs'), dir, ...buckets],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`s3rver exited (${code}) before listening`);
    }),
  ])) as [string];
  const addr = JSON.parse(line) as { port: number };
  const direct = `http://127.0.0.1:${addr.port}`;
  const requests: S3Server['requests'] = [];
  let failing = 0;
  let stalling = 0;
  /** The last object write of each key (path) the proxy passed on; the next waits for it. */
  const writes = new Map<string, Promise<void>>();
  let failure = { status: 503, code: 'SlowDown' };
  const proxy = http.createServer((req, res) => {
    // Presigned requests carry their signature in the query; the SDK's own, in the Authorization header.
    const entry = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      presigned: /[?&]X-Amz-Signature=/.test(req.url ?? ''),
    };
    requests.push(entry);
    if (stalling > 0) {
      stalling--;
      req.resume(); // read, never answered: closed with the proxy
      return;
    }
    if (failing > 0) {
      failing--;
      entry.status = failure.status;
      req.resume();
      res.writeHead(failure.status, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${failure.code}</Code><Message>injected by the test proxy</Message></Error>`,
      );
      return;
    }
    const forward = () =>
      new Promise<void>((done) => {
        const up = http.request(
          { host: '127.0.0.1', port: addr.port, method: req.method, path: req.url, headers: req.headers },
          (upRes) => {
            entry.status = upRes.statusCode ?? 0;
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
            upRes.once('end', done);
            upRes.once('error', done);
          },
        );
        up.on('error', () => {
          res.destroy();
          done();
        });
        res.once('close', done);
        req.pipe(up);
      });
    // s3rver writes an object in place (truncate, then write), so two PUTs of one key at once can
    // interleave into a mix of both, which S3 never returns (each PUT is atomic; the last one wins). The
    // proxy passes one object write of a key at a time, as S3 appears to.
    const url = new URL(req.url ?? '/', 'http://s3');
    const write =
      (req.method === 'PUT' && !url.searchParams.has('partNumber')) ||
      (req.method === 'POST' && url.searchParams.has('uploadId'));
    if (!write) {
      void forward();
      return;
    }
    const before = writes.get(url.pathname) ?? Promise.resolve();
    const mine = before.then(forward);
    writes.set(url.pathname, mine);
    void mine.then(() => {
      if (writes.get(url.pathname) === mine) writes.delete(url.pathname);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  t.after(async () => {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    await fs.rm(dir, { recursive: true, force: true });
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directEndpoint: direct,
    pid: child.pid as number,
    requests,
    failNext(n, error = { status: 503, code: 'SlowDown' }) {
      failing = n;
      failure = error;
    },
    stallNext(n) {
      stalling = n;
    },
    credentials: S3RVER_CREDENTIALS,
  };
}

/**
 * An S3ObjectStore on the server (path style, its credentials); closed after the test. s3rver writes an
 * object in place (truncate, then write; metadata apart), unlike S3, so a GET racing a PUT of the same key
 * can get fewer bytes than it announced and stall: a short request timeout makes the SDK retry it.
 */
export function s3StoreOn(t: T, s: S3Server, o: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  const store = new S3ObjectStore({
    endpoint: s.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s.credentials,
    requestTimeoutMs: 5000,
    ...o,
  });
  t.after(async () => store.close());
  return store;
}

/** `sluice serve`'s environment for the S3 store on this server (path style, its credentials). */
export function s3ServeEnv(s: S3Server): Record<string, string> {
  return {
    SLUICE_STORAGE: 's3',
    SLUICE_S3_ENDPOINT: s.endpoint,
    SLUICE_S3_REGION: 'us-east-1',
    SLUICE_S3_FORCE_PATH_STYLE: 'true',
    SLUICE_S3_ACCESS_KEY_ID: s.credentials.accessKeyId,
    SLUICE_S3_SECRET_ACCESS_KEY: s.credentials.secretAccessKey,
  };
}

/** The AWS SDK's own client, straight at the server (not through the recording proxy): a user's uploads. */
export function s3Client(s: S3Server): S3Client {
  return new S3Client({
    endpoint: s.directEndpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/**
 * Waits until the server has answered a listing of `bucket`: a `sluice serve` on it has run its start
 * reconcile, so objects put after this come to it by notifications (or the next reconcile) only.
 */
export async function listedOnce(s: S3Server, bucket = 'source'): Promise<void> {
  const listing = new RegExp(`^/${bucket}/?(\\?|$)`);
  await waitFor(
    `a listing of ${bucket} answered`,
    async () => s.requests.some((r) => r.method === 'GET' && listing.test(r.path) && r.status > 0),
    30_000,
  );
}
