// POST /v1/plan/file: the dry run for a file that is not uploaded. The body is probed from a scratch
// folder and always removed; nothing lands in a bucket and no job is made. A corrupt or empty body, a
// body past the upload limit and an unknown template are each refused with their own code.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { clip, waitFor } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

/** What is left in the scratch folder and the buckets: nothing, after any plan of a file. */
async function leftovers(dir: string, objects: Awaited<ReturnType<typeof buildTestApi>>['objects']) {
  const tmp = await fs.readdir(path.join(dir, 'tmp')).catch(() => []);
  const stored = [...(await objects.list('source')), ...(await objects.list('destination'))];
  return { tmp, stored: stored.map((o) => o.key) };
}

test('POST /v1/plan/file answers as POST /v1/plan would for the same file, and keeps nothing', async (t) => {
  const { app, dir, objects, store } = await buildTestApi(t);
  const file = await clip({ width: 640, height: 360, seconds: 1 });
  const bytes = await fs.readFile(file);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/plan/file?template=abr-default&name=${encodeURIComponent('my holiday (1).mp4')}`,
    headers: { 'content-type': 'video/mp4' },
    payload: bytes,
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.template, 'abr-default');
  assert.equal(body.input.video.width, 640);
  assert.deepEqual(await leftovers(dir, objects), { tmp: [], stored: [] });
  assert.deepEqual(await store.list({}), []);
  // The same file through the bucket route: the same probe and plan.
  await objects.upload('source', 'in/clip.mp4', file);
  const viaBucket = await app.inject({ method: 'POST', url: '/v1/plan', payload: { key: 'in/clip.mp4' } });
  assert.deepEqual(body.plan, viaBucket.json().plan);
  // No content type at all (a bare fetch body) is taken too; the default template applies.
  const bare = await app.inject({ method: 'POST', url: '/v1/plan/file', payload: bytes });
  assert.equal(bare.statusCode, 200, bare.body);
  assert.equal(bare.json().template, 'abr-default');
});

test('a corrupt body is INPUT_UNREADABLE (or INPUT_NO_VIDEO, truncated) and its scratch file is removed', async (t) => {
  const { app, dir, objects } = await buildTestApi(t);
  const good = await fs.readFile(await clip({ width: 320, height: 180, seconds: 1 }));
  const cases: [Buffer, string][] = [
    [Buffer.from('this is not a video at all, just text pretending to be one'), 'INPUT_UNREADABLE'],
    [Buffer.alloc(4096, 0xff), 'INPUT_UNREADABLE'],
    // A truncated upload: the container's head parses, but no stream is in it.
    [good.subarray(0, 200), 'INPUT_NO_VIDEO'],
  ];
  for (const [payload, code] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/plan/file?name=broken.mp4',
      headers: { 'content-type': 'application/octet-stream' },
      payload,
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().code, code);
    if (code === 'INPUT_UNREADABLE')
      assert.match(res.json().detail, /broken\.mp4/, 'the message names the user’s file');
    assert.doesNotMatch(res.json().detail, /plan-file-|\/tmp\//, 'and not the scratch path');
  }
  assert.deepEqual(await leftovers(dir, objects), { tmp: [], stored: [] });
});

test('an empty body, one past the upload limit, an unknown template or query field: refused, nothing kept', async (t) => {
  const { app, dir, objects } = await buildTestApi(t, { maxUploadBytes: 1000 });
  const post = (url: string, payload: Buffer, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'video/mp4', ...headers } });
  const empty = await post('/v1/plan/file', Buffer.alloc(0));
  assert.equal(empty.json().code, 'INPUT_EMPTY');
  const big = await post('/v1/plan/file', Buffer.alloc(1001, 1));
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
  // Chunked (no Content-Length): cut off at the limit while being written.
  const chunked = await post('/v1/plan/file', Buffer.alloc(5000, 1), { 'transfer-encoding': 'chunked' });
  assert.equal(chunked.json().code, 'PAYLOAD_TOO_LARGE');
  const unknown = await post('/v1/plan/file?template=nope', Buffer.alloc(10, 1));
  assert.equal(unknown.json().code, 'TEMPLATE_NOT_FOUND');
  const extra = await post('/v1/plan/file?bucket=source', Buffer.alloc(10, 1));
  assert.equal(extra.json().code, 'VALIDATION_FAILED');
  assert.deepEqual(await leftovers(dir, objects), { tmp: [], stored: [] });
});

test('a body that trickles in is cut off like a slow upload, and its scratch folder removed', {
  timeout: 20_000,
}, async (t) => {
  const { app, dir } = await buildTestApi(t, {
    clientLimits: { minBodyBytesPerSecond: 1024, bodyRateWindowMs: 1000 },
  });
  app.addHook('preClose', async () => app.server.closeAllConnections());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const socket = net.connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {});
  socket.resume();
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(
    'POST /v1/plan/file?name=slow.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: video/mp4\r\nContent-Length: 1000000\r\n\r\nx',
  );
  const scratch = async () =>
    (await fs.readdir(path.join(dir, 'tmp')).catch(() => [] as string[])).filter((n) =>
      n.startsWith('plan-file-'),
    );
  await waitFor('the body to start landing in a scratch folder', async () => (await scratch()).length > 0);
  const drip = setInterval(() => socket.writable && socket.write('x'), 200);
  t.after(() => clearInterval(drip));
  await gone;
  clearInterval(drip);
  await waitFor('the scratch folder to be removed', async () => (await scratch()).length === 0);
});
