// Slow and many clients, over real HTTP on loopback: headers and request bodies that trickle in are cut
// off (and leave nothing stored), uploads and /v1/plan probes are bounded, and health keeps answering.
// Limits are made small through the API's clientLimits so each case takes a second or two.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { probe } from '../../src/media/probe.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { buildTestApi, type TestApiOptions } from './test-api.ts';

async function serve(t: Parameters<typeof buildTestApi>[0], o: TestApiOptions) {
  const api = await buildTestApi(t, o);
  // Closing must not wait for a slow client the server failed to cut off: that is the failure to report.
  api.app.addHook('preClose', async () => api.app.server.closeAllConnections());
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const address = api.app.server.address();
  assert.ok(address && typeof address === 'object');
  return { ...api, port: address.port, base: `http://127.0.0.1:${address.port}` };
}

/** A raw socket, so the test decides exactly which bytes go out and when. */
async function connect(port: number): Promise<net.Socket & { gone: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => {}); // a reset from the server is one of the ways it cuts a client off
  // Flowing, so a FIN from the server is read and 'close' follows: a paused socket may never see its end
  // (seen under load: the server had closed it, the test waited 20 s for a 'close' that never came).
  socket.resume();
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return Object.assign(socket, { gone });
}

function uploadHead(key: string, length: number): string {
  return [
    `PUT /v1/uploads/${key} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/octet-stream',
    `Content-Length: ${length}`,
    '',
    '',
  ].join('\r\n');
}

/** Upload temp files in the data directory (the local store writes `tmp/put-*`, then renames it). */
async function tempUploads(dir: string): Promise<string[]> {
  const names = await fs.readdir(path.join(dir, 'tmp')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('put-'));
}

test('an upload that sends its headers, then 1 byte every 200 ms, is cut off and leaves nothing stored', {
  timeout: 20_000,
}, async (t) => {
  const { port, dir, objects } = await serve(t, {
    clientLimits: { minBodyBytesPerSecond: 1024, bodyRateWindowMs: 1000 },
  });
  const socket = await connect(port);
  socket.write(uploadHead('slow.mp4', 1_000_000));
  socket.write('x');
  await waitFor('the upload to start streaming to a temp file', async () => (await tempUploads(dir)).length);
  const drip = setInterval(() => socket.writable && socket.write('x'), 200);
  t.after(() => clearInterval(drip));
  await socket.gone;
  clearInterval(drip);
  await waitFor('the temp file to be removed', async () => (await tempUploads(dir)).length === 0);
  assert.equal(await objects.stat('source', 'slow.mp4'), null, 'no object for a cut-off upload');
  assert.deepEqual(await objects.list('source'), []);
});

test('a connection that sends part of its headers, or nothing, is closed after the headers or idle timeout', {
  timeout: 20_000,
}, async (t) => {
  const { port } = await serve(t, { clientLimits: { headersTimeoutMs: 500, idleTimeoutMs: 500 } });
  const socket = await connect(port);
  socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  await socket.gone;
  const silent = await connect(port);
  await silent.gone;
});

test('uploads beyond the limit are refused with 503 SERVER_BUSY and Retry-After; health still answers', {
  timeout: 20_000,
}, async (t) => {
  const { port, base, dir, objects } = await serve(t, {
    clientLimits: { maxConcurrentUploads: 2, bodyRateWindowMs: 60_000 },
  });
  const holders = await Promise.all([connect(port), connect(port)]);
  holders.forEach((s, i) => {
    s.write(uploadHead(`held-${i}.mp4`, 100));
    s.write('x');
  });
  t.after(() => {
    for (const s of holders) s.destroy();
  });
  await waitFor('both uploads to hold their slots', async () => (await tempUploads(dir)).length === 2);

  const refused = await fetch(`${base}/v1/uploads/third.mp4`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: 'abc',
  });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After tells the client when to retry');
  const problem = (await refused.json()) as { code: string; detail: string };
  assert.equal(problem.code, 'SERVER_BUSY');
  assert.match(problem.detail, /uploads/);
  assert.equal(await objects.stat('source', 'third.mp4'), null, 'nothing stored for a refused upload');

  const health = await fetch(`${base}/v1/health`);
  assert.equal(health.status, 200, 'health answers while the upload slots are held');
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  // A slot freed by a client that goes away is taken by the next upload.
  holders[0]?.destroy();
  await waitFor('the freed slot to be usable', async () => {
    const res = await fetch(`${base}/v1/uploads/later.mp4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'abc',
    });
    return res.status === 201;
  });
});

test('many concurrent plans never run more probes at once than the limit', { timeout: 60_000 }, async (t) => {
  let running = 0;
  let most = 0;
  let starts = 0;
  const counted = async (file: string): Promise<MediaInfo> => {
    starts++;
    running++;
    most = Math.max(most, running);
    try {
      return await probe(file);
    } finally {
      running--;
    }
  };
  const { base, objects } = await serve(t, {
    probe: counted,
    clientLimits: { maxConcurrentProbes: 2, maxQueuedProbes: 100 },
  });
  await objects.upload('source', 'in/clip.mp4', await clip({ width: 320, height: 180, seconds: 1 }));
  const plans = await Promise.all(
    Array.from({ length: 12 }, () =>
      fetch(`${base}/v1/plan`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'in/clip.mp4' }),
      }),
    ),
  );
  assert.deepEqual(
    plans.map((r) => r.status),
    Array(12).fill(200),
  );
  assert.equal(starts, 12, 'every plan probed through the injected probe');
  assert.ok(most <= 2, `at most 2 probes at once, saw ${most}`);
  assert.equal(most, 2, 'the limit is used, not just respected');
});

test('plans beyond the probe queue are refused with 503 SERVER_BUSY; the queued ones run', {
  timeout: 60_000,
}, async (t) => {
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let starts = 0;
  const gated = async (file: string): Promise<MediaInfo> => {
    starts++;
    await gate; // holds the one running probe, so the queue fills deterministically
    return probe(file);
  };
  const { base, objects } = await serve(t, {
    probe: gated,
    clientLimits: { maxConcurrentProbes: 1, maxQueuedProbes: 1 },
  });
  t.after(() => release());
  await objects.upload('source', 'in/clip.mp4', await clip({ width: 320, height: 180, seconds: 1 }));
  const statuses: number[] = [];
  const plans = Array.from({ length: 6 }, async () => {
    const res = await fetch(`${base}/v1/plan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'in/clip.mp4' }),
    });
    statuses.push(res.status);
    if (res.status === 503) {
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(((await res.json()) as { code: string }).code, 'SERVER_BUSY');
    }
    return res.status;
  });
  await waitFor(
    'four plans refused while one probes and one waits',
    async () => statuses.length === 4,
    10_000,
  );
  assert.deepEqual(statuses, [503, 503, 503, 503]);
  assert.equal(starts, 1, 'only one probe started');
  release();
  const all = await Promise.all(plans);
  assert.equal(all.filter((s) => s === 200).length, 2, 'the running and the queued plan both answer');
});

test('a JSON body that is not complete within the request timeout is cut off', {
  timeout: 20_000,
}, async (t) => {
  const { port } = await serve(t, { clientLimits: { requestTimeoutMs: 500, minBodyBytesPerSecond: 0 } });
  const socket = await connect(port);
  socket.write(
    'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"key":',
  );
  await socket.gone;
});

test('SLUICE_* limits reach a real `sluice serve`: silent socket closed, upload refused then cut off, slot freed', {
  timeout: 60_000,
}, async (t) => {
  const dataDir = await tempDir(t);
  const server = spawn(process.execPath, [SLUICE_BIN, '--data-dir', dataDir, 'serve', '--port', '0'], {
    stdio: 'ignore',
    env: {
      ...process.env,
      SLUICE_LOG_LEVEL: 'silent',
      SLUICE_IDLE_TIMEOUT_MS: '500',
      SLUICE_MAX_CONCURRENT_UPLOADS: '1',
      SLUICE_MIN_BODY_BYTES_PER_SECOND: '1024',
      SLUICE_BODY_RATE_WINDOW_MS: '1000',
    },
  });
  const exited = new Promise((r) => server.once('exit', r));
  t.after(async () => {
    server.kill('SIGKILL');
    await exited;
  });
  const { url } = await waitFor('sluice serve to start', async () => {
    const text = await fs.readFile(path.join(dataDir, 'server.json'), 'utf8').catch(() => '');
    return text ? (JSON.parse(text) as { url: string }) : null;
  });
  const port = Number(new URL(url).port);

  const silent = await connect(port);
  await silent.gone;

  const slow = await connect(port);
  slow.write(uploadHead('slow.mp4', 1_000_000));
  slow.write('x');
  await waitFor('the slow upload to hold the slot', async () => (await tempUploads(dataDir)).length === 1);
  const drip = setInterval(() => slow.writable && slow.write('x'), 200);
  t.after(() => clearInterval(drip));
  const refused = await fetch(`${url}/v1/uploads/second.mp4`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: 'abc',
  });
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { code: string }).code, 'SERVER_BUSY');
  await slow.gone;
  clearInterval(drip);
  await waitFor('the temp file to be removed', async () => (await tempUploads(dataDir)).length === 0);
  const source = path.join(dataDir, 'buckets', 'source');
  assert.deepEqual(await fs.readdir(source), [], 'nothing stored in the source bucket');
  const later = await waitFor('the freed slot to take an upload', async () => {
    const res = await fetch(`${url}/v1/uploads/later.mp4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'abc',
    });
    return res.status === 201 ? res : null;
  });
  assert.equal(later.status, 201);
});

test('at the connection limit, the oldest connection without a request makes room: health still answers', {
  timeout: 20_000,
}, async (t) => {
  const { port, base } = await serve(t, { clientLimits: { maxConnections: 3, idleTimeoutMs: 60_000 } });
  const silent = [await connect(port), await connect(port), await connect(port)];
  t.after(() => {
    for (const s of silent) s.destroy();
  });
  const health = await fetch(`${base}/v1/health`);
  assert.equal(health.status, 200, 'a new client gets in although silent sockets fill the limit');
  await silent[0]?.gone; // the oldest silent socket was the one closed
  const headed = await fetch(`${base}/v1/health`);
  assert.equal(headed.status, 200);
});

test('an upload that is slow but above the minimum rate is never cut, however long it takes', {
  timeout: 20_000,
}, async (t) => {
  // The request timeout (500 ms) is far shorter than the upload (about 2.5 s): it does not apply to uploads.
  const { port, objects } = await serve(t, {
    clientLimits: { minBodyBytesPerSecond: 1024, bodyRateWindowMs: 500, requestTimeoutMs: 500 },
  });
  const chunks = 12;
  const chunk = Buffer.alloc(2048, 1); // 2 KiB every 200 ms: 10 KiB/s, ten times the minimum
  const socket = await connect(port);
  let response = '';
  socket.on('data', (d) => {
    response += d.toString();
  });
  socket.write(uploadHead('steady.mp4', chunks * chunk.length));
  for (let i = 0; i < chunks; i++) {
    socket.write(chunk);
    await new Promise((r) => setTimeout(r, 200)); // pacing the client, not synchronising the test
  }
  await waitFor('the response', async () => response.includes('\r\n\r\n'));
  assert.match(response, /^HTTP\/1\.1 201 /);
  assert.equal((await objects.stat('source', 'steady.mp4'))?.size, chunks * chunk.length);
  socket.destroy();
});
