// GET|HEAD /v1/jobs/:id/files/*: a job's published files over real HTTP on loopback, with byte ranges as
// players ask for them; the path never leaves the job's output prefix however it is spelled (raw `..`,
// percent-encoded dots and slashes, double encoding, absolute, backslashes, a symlink).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { sessionValue } from '../../src/api/console-session.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { buildTestApi } from './test-api.ts';

const PREFIX = 'videos/clip.mp4/abr-default';
const MASTER = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv/job-1/720p.m3u8\n';
const SEGMENT = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 251));
const SECRET = 'SECRET-OUTSIDE-THE-PREFIX';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A request with its path sent exactly as given (fetch would normalise `..` away). */
function request(port: number, method: string, rawPath: string, headers: Record<string, string> = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function served(t: Parameters<typeof buildTestApi>[0], o: { apiToken?: string } = {}) {
  const api = await buildTestApi(t, o);
  const { job } = await api.store.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'videos/clip.mp4', size: 10, etag: 'e' },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'destination', prefix: PREFIX },
      userMetadata: {},
      idempotencyKey: 'files-test',
    },
    new Date(),
  );
  const put = (key: string, body: string | Buffer) =>
    api.objects.put('destination', key, Readable.from([Buffer.from(body)]));
  await put(`${PREFIX}/master.m3u8`, MASTER);
  await put(`${PREFIX}/v/job-1/720p/seg-1.m4s`, SEGMENT);
  await put(`${PREFIX}/empty.json`, Buffer.alloc(0)).catch(() => {});
  await put('videos/clip.mp4/secret.txt', SECRET);
  await put('secret.txt', SECRET);
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const address = api.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const get = (rel: string, headers: Record<string, string> = {}, method = 'GET') =>
    request(port, method, `/v1/jobs/${job.id}/files/${rel}`, headers);
  return { ...api, job, port, get };
}

test('a file of the job: its bytes, type, length, validators and Accept-Ranges', async (t) => {
  const { get, job, port } = await served(t);
  const res = await get('master.m3u8');
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), MASTER);
  assert.equal(res.headers['content-type'], 'application/vnd.apple.mpegurl');
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(MASTER)));
  assert.equal(res.headers['accept-ranges'], 'bytes');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(String(res.headers.etag), /^".+"$/);
  assert.ok(Date.parse(String(res.headers['last-modified'])) > 0);
  const again = await get('master.m3u8', { 'if-none-match': String(res.headers.etag) });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  const seg = await get('v/job-1/720p/seg-1.m4s');
  assert.equal(seg.status, 200);
  assert.deepEqual(seg.body, SEGMENT);
  assert.equal(seg.headers['content-type'], 'video/iso.segment');
  assert.equal(seg.headers['cache-control'], 'private, max-age=31536000, immutable');
  // A prefix of the job id works as elsewhere.
  const short = await request(port, 'GET', `/v1/jobs/${job.id.slice(0, 16)}/files/master.m3u8`);
  assert.equal(short.status, 200);
});

test('single ranges are 206 with Content-Range; past the end is 416; several ranges get the whole file', async (t) => {
  const { get } = await served(t);
  const f = 'v/job-1/720p/seg-1.m4s';
  const size = SEGMENT.length;
  const cases: [string, number, number][] = [
    ['bytes=0-0', 0, 0],
    ['bytes=10-19', 10, 19],
    ['bytes=-7', size - 7, size - 1],
    [`bytes=-${size + 50}`, 0, size - 1],
    ['bytes=250-', 250, size - 1],
    [`bytes=290-${size + 1000}`, 290, size - 1],
    [`bytes=${size - 1}-`, size - 1, size - 1],
  ];
  for (const [range, start, end] of cases) {
    const res = await get(f, { range });
    assert.equal(res.status, 206, range);
    assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
    assert.equal(res.headers['content-length'], String(end - start + 1), range);
    assert.deepEqual(res.body, SEGMENT.subarray(start, end + 1), range);
  }
  for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 9}`, 'bytes=-0']) {
    const res = await get(f, { range });
    assert.equal(res.status, 416, range);
    assert.equal(res.headers['content-range'], `bytes */${size}`, range);
    assert.equal(JSON.parse(res.body.toString()).code, 'RANGE_NOT_SATISFIABLE');
    // An error is not the file: no validator a cache would keep it under, no lifetime (a year, here).
    assert.equal(res.headers.etag, undefined, `${range}: no ETag on an error`);
    assert.equal(res.headers['last-modified'], undefined, range);
    assert.doesNotMatch(String(res.headers['cache-control'] ?? ''), /max-age|immutable/, range);
  }
  // Several ranges, another unit, or nonsense: ignored (RFC 9110), the whole file.
  for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=9-3', 'bytes=abc']) {
    const res = await get(f, { range });
    assert.equal(res.status, 200, range);
    assert.deepEqual(res.body, SEGMENT, range);
  }
});

test('HEAD answers the headers GET would, without the body', async (t) => {
  const { get } = await served(t);
  const head = await get('master.m3u8', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(MASTER)));
  assert.equal(head.headers['content-type'], 'application/vnd.apple.mpegurl');
  assert.equal(head.headers['accept-ranges'], 'bytes');
  assert.equal(head.body.length, 0);
  const ranged = await get('v/job-1/720p/seg-1.m4s', { range: 'bytes=-10' }, 'HEAD');
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-range'], `bytes ${SEGMENT.length - 10}-${SEGMENT.length - 1}/300`);
  assert.equal(ranged.headers['content-length'], '10');
  const missing = await get('nope.m3u8', {}, 'HEAD');
  assert.equal(missing.status, 404);
});

test('a missing file is 404 OUTPUT_NOT_FOUND; a missing job JOB_NOT_FOUND', async (t) => {
  const { get, port } = await served(t);
  for (const rel of ['manifest.mpd', 'v/job-1/720p/seg-9.m4s', 'v']) {
    const res = await get(rel);
    assert.equal(res.status, 404, rel);
    assert.equal(JSON.parse(res.body.toString()).code, 'OUTPUT_NOT_FOUND', rel);
  }
  const res = await request(port, 'GET', '/v1/jobs/job_0000000000nosuchjobxxxx/files/master.m3u8');
  assert.equal(res.status, 404);
  assert.equal(JSON.parse(res.body.toString()).code, 'JOB_NOT_FOUND');
});

test('no spelling of the path leaves the job prefix: .., encoded dots and slashes, absolute, backslash', async (t) => {
  const { get } = await served(t);
  const hostile = [
    '../secret.txt',
    '../../../secret.txt',
    '%2e%2e/secret.txt',
    '%2E%2E/%2E%2E/%2E%2E/secret.txt',
    '..%2fsecret.txt',
    '%2e%2e%2fsecret.txt',
    '%252e%252e/secret.txt',
    '..%252fsecret.txt',
    'v/..%2f..%2fsecret.txt',
    'v/%2e%2e/%2e%2e/secret.txt',
    '//secret.txt',
    '///secret.txt',
    '..%5csecret.txt',
    '..\\secret.txt',
    './master.m3u8',
    'v//job-1/720p/seg-1.m4s',
    '%00master.m3u8',
  ];
  for (const rel of hostile) {
    const res = await get(rel);
    assert.equal(res.status, 400, rel);
    assert.equal(JSON.parse(res.body.toString()).code, 'INVALID_OBJECT_KEY', rel);
    assert.ok(!res.body.toString().includes(SECRET), rel);
  }
  // One leading slash is the separator after the prefix (output key minus destination.prefix): still
  // inside it, so /secret.txt is the prefix's own (absent) secret.txt, not the one outside.
  for (const rel of ['/secret.txt', '%2fsecret.txt']) {
    const inside = await get(rel);
    assert.equal(inside.status, 404, rel);
    assert.equal(JSON.parse(inside.body.toString()).code, 'OUTPUT_NOT_FOUND', rel);
  }
  assert.equal((await get('/master.m3u8')).body.toString(), MASTER);
  assert.equal((await get('master.m3u8')).status, 200);
});

test('a symlink under the prefix is not followed to a file outside it', async (t) => {
  const { get, dir } = await served(t);
  const bucket = path.join(dir, 'buckets', 'destination');
  await fs.symlink(path.join(bucket, 'secret.txt'), path.join(bucket, ...PREFIX.split('/'), 'link.m3u8'));
  await fs.symlink(path.join(bucket, 'videos', 'clip.mp4'), path.join(bucket, ...PREFIX.split('/'), 'up'));
  for (const rel of ['link.m3u8', 'up/secret.txt']) {
    const res = await get(rel);
    assert.ok(res.status === 409 || res.status === 404, `${rel}: ${res.status}`);
    assert.ok(!res.body.toString().includes(SECRET), rel);
  }
});

test('with an API token the files need it, or the session cookie (what a <video> element sends)', async (t) => {
  const token = 'files-token-0123456789';
  const { get } = await served(t, { apiToken: token });
  assert.equal((await get('master.m3u8')).status, 401);
  assert.equal((await get('master.m3u8', { authorization: `Bearer ${token}` })).status, 200);
  const cookie = `sluice_session=${sessionValue(token)}`;
  const res = await get('v/job-1/720p/seg-1.m4s', { cookie, range: 'bytes=0-0' });
  assert.equal(res.status, 206);
});

test('a file replaced between its stat and its read is served whole from the new bytes', async (t) => {
  const api = await served(t);
  const key = `${PREFIX}/master.m3u8`;
  const republished = `${MASTER}#EXT-X-STREAM-INF:BANDWIDTH=2000\nv/job-2/1080p.m3u8\n`;
  const stat = api.objects.stat.bind(api.objects);
  let replaced = false;
  api.objects.stat = async (bucket, k) => {
    const info = await stat(bucket, k);
    if (k === key && !replaced) {
      replaced = true; // a republish lands right after the route looked
      await api.objects.put('destination', key, Readable.from([Buffer.from(republished)]));
    }
    return info;
  };
  const res = await api.get('master.m3u8');
  assert.ok(replaced);
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), republished);
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(republished)));
});
