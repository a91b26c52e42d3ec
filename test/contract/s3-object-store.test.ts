// The ObjectStore contract on S3: the S3ObjectStore against s3rver, a real S3-protocol server on loopback
// started by the test (never a mock of the SDK), plus what matters only on S3: headers per suffix,
// multipart puts, listings of several pages, retries through throttling.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { SluiceError } from '../../src/errors.ts';
import { s3StoreOn, startS3rver } from '../s3rver.ts';
import { objectStoreContract } from './object-store.contract.ts';

objectStoreContract('S3ObjectStore (s3rver, a real S3-protocol server on loopback)', {
  async open(t) {
    return s3StoreOn(t, await startS3rver(t));
  },
});

const NAME = 'S3ObjectStore (s3rver, a real S3-protocol server on loopback)';
const body = (s: string | Buffer) => Readable.from([Buffer.from(s)]);
const code = (c: string) => (e: unknown) => e instanceof SluiceError && e.code === c;

test(`${NAME}: each object is stored with the Content-Type and Cache-Control of its suffix and place`, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3);
  const cases: [string, string, string][] = [
    ['set/master.m3u8', 'application/vnd.apple.mpegurl', 'no-cache'],
    ['set/manifest.mpd', 'application/dash+xml', 'no-cache'],
    ['set/talk.mp4', 'video/mp4', 'no-cache'],
    ['set/poster.jpg', 'image/jpeg', 'no-cache'],
    ['set/sprites.vtt', 'text/vtt', 'no-cache'],
    ['set/v/j1-1/720p/seg-1.m4s', 'video/iso.segment', 'public, max-age=31536000, immutable'],
    ['set/v/j1-1/720p/index.m3u8', 'application/vnd.apple.mpegurl', 'public, max-age=31536000, immutable'],
    ['set/v/j1-1/audio/seg-1.m4a', 'audio/mp4', 'public, max-age=31536000, immutable'],
  ];
  for (const [key, type, cache] of cases) {
    await store.put('destination', key, body('x'));
    const h = await store.client.send(new HeadObjectCommand({ Bucket: 'destination', Key: key }));
    assert.equal(h.ContentType, type, key);
    assert.equal(h.CacheControl, cache, key);
  }
  // A move takes the headers of its new name (a staged manifest becomes a manifest).
  await store.put('destination', '.staging/j1/1/master.m3u8', body('#EXTM3U'));
  await store.move('destination', '.staging/j1/1/master.m3u8', 'other/master.m3u8');
  const moved = await store.client.send(
    new HeadObjectCommand({ Bucket: 'destination', Key: 'other/master.m3u8' }),
  );
  assert.equal(moved.ContentType, 'application/vnd.apple.mpegurl');
  assert.equal(moved.CacheControl, 'no-cache');
});

test(`${NAME}: a 12 MiB put goes multipart (5 MiB parts) and reads back whole; a short one leaves no upload behind`, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3, { partSize: 5 * 1024 * 1024 });
  const big = Buffer.alloc(12 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
  const chunks = Array.from({ length: 12 }, (_, i) => big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
  const info = await store.put('source', 'big.mp4', Readable.from(chunks), { expectedBytes: big.length });
  assert.equal(info.size, big.length);
  const parts = s3.requests.filter((r) => r.method === 'PUT' && /partNumber=/.test(r.path));
  assert.equal(parts.length, 3, 'three parts of at most 5 MiB');
  assert.ok((await store.read('source', 'big.mp4', big.length)).equals(big));
  // Declared 12 MiB, sent 11: the multipart upload is aborted before completion.
  await assert.rejects(
    store.put('source', 'short.mp4', Readable.from(chunks.slice(0, 11)), { expectedBytes: big.length }),
    code('UPLOAD_INCOMPLETE'),
  );
  assert.equal(await store.stat('source', 'short.mp4'), null);
  // Aborted, not completed (s3rver answers the abort 405: it keeps no parts to free).
  assert.ok(
    s3.requests.some((r) => r.method === 'DELETE' && /uploadId=/.test(r.path)),
    'the upload was aborted',
  );
  assert.equal(
    s3.requests.filter((r) => r.method === 'POST' && /uploadId=/.test(r.path)).length,
    1,
    'only the first upload completed',
  );
});

test(`${NAME}: list follows continuation tokens over three pages; removePrefix deletes them all`, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3, { pageSize: 4 });
  const keys = Array.from({ length: 11 }, (_, i) => `set/v/a/seg-${String(i).padStart(2, '0')}.m4s`);
  for (const k of keys) await store.put('destination', k, body(k));
  await store.put('destination', 'set/keep.mp4', body('keep'));
  const listed = (await store.list('destination', 'set/v/')).map((o) => o.key).sort();
  assert.deepEqual(listed, keys);
  const pages = s3.requests.filter((r) => r.method === 'GET' && /list-type=2/.test(r.path));
  assert.equal(pages.length, 3, '11 keys at 4 a page');
  await store.removePrefix('destination', 'set/v/');
  assert.deepEqual(
    (await store.list('destination')).map((o) => o.key),
    ['set/keep.mp4'],
  );
});

test(`${NAME}: a request the store never answers times out and is sent again, not waited on for ever`, {
  timeout: 30_000,
}, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3, { maxAttempts: 3, requestTimeoutMs: 500 });
  await store.put('source', 'stuck.mp4', body('answered on the second try'));
  const before = s3.requests.length;
  s3.stallNext(1);
  assert.equal((await store.stat('source', 'stuck.mp4'))?.size, 26);
  assert.equal(s3.requests.length - before, 2, 'the stalled request, then the retry');
});

test(`${NAME}: throttling (503 SlowDown) and 5xx are retried: a put, a stat and a list still succeed`, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3, { maxAttempts: 4 });
  s3.failNext(3);
  const info = await store.put('source', 'retry.mp4', body('after three 503s'));
  assert.equal(info.size, 16);
  assert.equal(s3.requests.filter((r) => r.status === 503).length, 3, 'three requests were refused');
  s3.failNext(2, { status: 500, code: 'InternalError' });
  assert.equal((await store.stat('source', 'retry.mp4'))?.size, 16);
  s3.failNext(2, { status: 503, code: 'ServiceUnavailable' });
  assert.deepEqual(
    (await store.list('source')).map((o) => o.key),
    ['retry.mp4'],
  );
  // More failures than attempts: a retryable STORAGE_FAILED, and nothing stored.
  s3.failNext(50, { status: 500, code: 'InternalError' });
  const once = s3StoreOn(t, s3, { maxAttempts: 2 });
  await assert.rejects(once.put('source', 'never.mp4', body('x')), (e: unknown) => {
    assert.ok(e instanceof SluiceError && e.code === 'STORAGE_FAILED' && e.retryable, String(e));
    return true;
  });
  s3.failNext(0);
  assert.equal(await store.stat('source', 'never.mp4'), null);
});

test(`${NAME}: a missing bucket, wrong credentials and no server get their own codes`, async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3);
  await assert.rejects(store.checkBuckets(['source', 'nope']), code('BUCKET_NOT_FOUND'));
  await assert.rejects(store.list('nope'), code('BUCKET_NOT_FOUND'));
  await store.put('source', 'ten.bin', body('0123456789'));
  await assert.rejects(store.openRead('source', 'ten.bin', { start: 50 }), code('VALIDATION_FAILED'));
  // s3rver checks the key id, not v4 signatures.
  const wrong = s3StoreOn(t, s3, { credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' } });
  await assert.rejects(wrong.checkBuckets(['source']), code('STORAGE_ACCESS_DENIED'));
  await assert.rejects(wrong.put('source', 'x.mp4', body('x')), code('STORAGE_ACCESS_DENIED'));
  const none = s3StoreOn(t, s3, { endpoint: 'http://127.0.0.1:1', maxAttempts: 2 });
  await assert.rejects(none.stat('source', 'x.mp4'), (e: unknown) => {
    assert.ok(e instanceof SluiceError && e.code === 'STORAGE_UNREACHABLE' && e.retryable, String(e));
    return true;
  });
});
