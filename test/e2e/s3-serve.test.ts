// `sluice serve` on S3: SLUICE_STORAGE=s3 against s3rver, a real S3-protocol server on loopback started
// by the test. A clip uploaded to the source bucket with the AWS SDK and submitted through the API
// becomes COMPLETE with its HLS, DASH and MP4 outputs in the destination bucket, each stored with the
// right Content-Type; once with the server's local workers, once with a remote pull worker that has no
// bucket credentials and reads and writes the bytes through presigned URLs, straight at the store.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { JobView } from '../../src/api/job-view.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import type { Assignment } from '../../src/worker/worker-api-client.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer } from '../real-server.ts';
import { listedOnce, s3Client, s3ServeEnv, startS3rver } from '../s3rver.ts';

type T = Parameters<typeof tempDir>[0];

async function uploadAndSubmit(server: RealServer, client: S3Client, key: string): Promise<JobView> {
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  await client.send(
    new PutObjectCommand({
      Bucket: 'source',
      Key: key,
      Body: await fs.readFile(input),
      ContentType: 'video/mp4',
    }),
  );
  const res = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bucket: 'source', key, template: 'tiny' }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const job = (await res.json()) as JobView;
  return waitFor(
    `job ${job.id} to finish`,
    async () => {
      const j = await server.api.getJob(job.id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    120_000,
  );
}

const TYPES: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
  jpg: 'image/jpeg',
  vtt: 'text/vtt',
};

/** Every output is in the destination bucket with its type; the master playlist's playlists are there. */
async function assertPublished(client: S3Client, job: JobView): Promise<void> {
  assert.equal(job.status, 'COMPLETE', `${job.error?.code} ${job.error?.message}`);
  const types = new Set(job.outputs.map((o) => o.type));
  for (const want of ['hls', 'dash', 'mp4'])
    assert.ok(types.has(want as never), `a ${want} output: ${[...types]}`);
  for (const o of job.outputs) {
    assert.equal(o.bucket, 'destination');
    if (o.key.endsWith('/')) {
      // A folder output (the segments of a version): a prefix with objects under it on S3.
      const listed = await client.send(new ListObjectsV2Command({ Bucket: o.bucket, Prefix: o.key }));
      assert.ok((listed.KeyCount ?? 0) > 0, `${o.key} holds objects`);
      continue;
    }
    const h = await client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: o.key })).catch((e) => {
      throw new Error(`output ${o.bucket}/${o.key} (${o.type}): ${e}`);
    });
    const ext = o.key.slice(o.key.lastIndexOf('.') + 1);
    assert.equal(h.ContentType, TYPES[ext] ?? h.ContentType, `${o.key} Content-Type`);
    if (o.key.includes('/v/')) assert.match(h.CacheControl ?? '', /immutable/, `${o.key}: a version file`);
    else assert.equal(h.CacheControl, 'no-cache', `${o.key}: a stable name revalidates`);
  }
  const set = job.destination.prefix;
  const master = await (
    await client.send(new GetObjectCommand({ Bucket: 'destination', Key: `${set}/master.m3u8` }))
  ).Body?.transformToString();
  const playlists = (master ?? '').split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(playlists.length > 0, 'the master playlist names media playlists');
  for (const p of playlists) {
    const h = await client
      .send(new HeadObjectCommand({ Bucket: 'destination', Key: `${set}/${p}` }))
      .catch((e) => {
        throw new Error(`${set}/${p}: ${e}; master: ${master}`);
      });
    assert.equal(h.ContentType, 'application/vnd.apple.mpegurl', p);
    assert.match(h.CacheControl ?? '', /immutable/, `${p}: a version file is immutable`);
  }
}

test('sluice serve with SLUICE_STORAGE=s3 on s3rver (a real S3-protocol server on loopback): a clip submitted through the API is published to the destination bucket', async (t) => {
  const s3 = await startS3rver(t);
  const client = s3Client(s3);
  t.after(() => client.destroy());
  const server = await startRealServer(t, { env: s3ServeEnv(s3) });
  await listedOnce(s3); // the start reconcile is over: the job comes through the API alone
  assert.ok(
    server.logs().some((l) => l.msg === 'object store open' && l.storage === 's3'),
    'the server opened the S3 store',
  );
  const job = await uploadAndSubmit(server, client, 'talks/intro.mp4');
  await assertPublished(client, job);
  // Nothing went to local folders; the local worker wrote its entry points straight over their names
  // (the store replaces objects atomically), so nothing was staged or copied.
  assert.equal(await fs.stat(server.source).catch(() => null), null, 'no local source folder');
  assert.deepEqual(
    s3.requests.filter((r) => r.method === 'PUT' && r.path.includes('/.staging/')),
    [],
    'no staged entry point',
  );
});

test('sluice serve on s3rver: a remote pull worker without bucket credentials reads and writes through presigned URLs', async (t) => {
  const s3 = await startS3rver(t);
  const client = s3Client(s3);
  t.after(() => client.destroy());
  const server = await startRealServer(t, { env: s3ServeEnv(s3), args: ['--no-local-workers'] });
  await listedOnce(s3); // the start reconcile is over: the job comes through the API alone
  const { token } = await server.api.createWorkerToken();
  const worker = await startWorker(t, server, token);
  const job = await uploadAndSubmit(server, client, 'remote/clip.mp4');
  await assertPublished(client, job);
  assert.ok(
    server.logs().some((l) => l.msg === 'job claimed by a remote worker' && l.jobId === job.id),
    'the remote worker ran the job',
  );
  // The input's bytes: one presigned GET from the worker, and no GET of it by the control plane.
  const inputGets = s3.requests.filter(
    (r) => r.method === 'GET' && r.path.startsWith('/source/remote/clip.mp4'),
  );
  assert.ok(inputGets.length >= 1, 'the input was read');
  assert.ok(
    inputGets.every((r) => r.presigned),
    `every read of the input was presigned: ${inputGets.map((r) => r.path.slice(0, 40))}`,
  );
  // The outputs: presigned PUTs, one per file; the control plane only copied the staged entry points.
  const puts = s3.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/destination/'));
  const presignedPuts = puts.filter((r) => r.presigned);
  assert.ok(presignedPuts.length >= job.outputs.length, `${presignedPuts.length} presigned output PUTs`);
  assert.ok(
    puts.filter((r) => !r.presigned).every((r) => r.path.includes(`/${job.destination.prefix}/`)),
    'the server itself wrote only the published entry points (copies)',
  );
  const versionPuts = puts.filter((r) => r.path.includes('/v/'));
  assert.ok(versionPuts.length > 0, 'version files were written');
  assert.ok(
    versionPuts.every((r) => r.presigned),
    'every version file (segments, media playlists) went straight from the worker to the store',
  );
  assert.ok(
    s3.requests.some((r) => r.presigned && r.method === 'PUT' && r.path.includes('/.staging/')),
    'the remote worker staged its entry points; the server copied them in under the lease',
  );
  assert.ok(!worker.stderr().includes('"level":50'), worker.stderr().slice(-2000));
});

/** `sluice worker --server --token` with no SLUICE_* and no AWS_* variable: no bucket credentials. */
async function startWorker(t: T, server: RealServer, token: string) {
  const cwd = await tempDir(t, 'sluice-s3-worker-');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('SLUICE_') && !k.startsWith('AWS_') && v !== undefined) env[k] = v;
  const child: ChildProcess = spawn(
    process.execPath,
    [SLUICE_BIN, 'worker', '--server', server.url, '--token', token],
    {
      cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...env, SLUICE_LOG_LEVEL: 'info', TMPDIR: cwd },
    },
  );
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    text += c;
  });
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
      await exited;
    }
  });
  return { stderr: () => text };
}

test('sluice serve on s3rver: a missing bucket or an unknown key id stops the start with its code and the setting to fix', async (t) => {
  const s3 = await startS3rver(t);
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [SLUICE_BIN, 'serve', '--port', '0'],
        { env: { ...process.env, ...s3ServeEnv(s3), SLUICE_LOG_LEVEL: 'info', ...env }, timeout: 60_000 },
        (err, _out, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }),
      );
    });
  const dataDir = await tempDir(t);
  const missing = await run({ SLUICE_DATA_DIR: dataDir, SLUICE_DESTINATION_BUCKET: 'not-there' });
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /sluice: BUCKET_NOT_FOUND: bucket not-there does not exist/);
  assert.match(missing.stderr, /SLUICE_DESTINATION_BUCKET/);
  const denied = await run({ SLUICE_DATA_DIR: dataDir, SLUICE_S3_ACCESS_KEY_ID: 'NOT-A-KEY' });
  assert.equal(denied.code, 1, denied.stderr);
  assert.match(denied.stderr, /sluice: STORAGE_ACCESS_DENIED: .*SLUICE_S3_ACCESS_KEY_ID/);
});

test('sluice serve on s3rver: presigned URLs are given only to the attempt holding the lease, only for its own keys', async (t) => {
  const s3 = await startS3rver(t);
  const client = s3Client(s3);
  t.after(() => client.destroy());
  const server = await startRealServer(t, { env: s3ServeEnv(s3), args: ['--no-local-workers'] });
  await listedOnce(s3); // the start reconcile is over: the job comes through the API alone
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  await client.send(
    new PutObjectCommand({ Bucket: 'source', Key: 'lease.mp4', Body: await fs.readFile(input) }),
  );
  const created = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'lease.mp4', template: 'tiny' }),
  });
  assert.equal(created.status, 201);
  const { token } = await server.api.createWorkerToken();
  const claim = await fetch(`${server.url}/v1/worker/claim`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ waitSeconds: 5 }),
  });
  const a = (await claim.json()) as Assignment & { leaseToken: string; storage: { presign?: string } };
  assert.ok(a.storage.presign, 'an S3 server offers presigning');
  const presign = (leaseToken: string, body: object) =>
    fetch(`${server.url}${a.storage.presign}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leaseToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const version = `v/${a.job.id}-${a.job.attempt}`;
  const ok = await presign(a.leaseToken, { input: true, outputs: [`${version}/seg-1.m4s`, 'master.m3u8'] });
  assert.equal(ok.status, 200, await ok.clone().text());
  const urls = (await ok.json()) as {
    input: { url: string };
    outputs: Record<string, { url: string; key: string }>;
  };
  assert.match(urls.input.url, /X-Amz-Signature=/);
  const got = await fetch(urls.input.url);
  assert.equal(
    Buffer.from(await got.arrayBuffer()).length,
    (await fs.stat(input)).size,
    'the presigned GET reads the input',
  );
  assert.match(urls.outputs['master.m3u8']?.url ?? '', new RegExp(`/destination/\\.staging/${a.job.id}/`));
  // Another version's folder, a hostile key, another token: refused.
  const other = await presign(a.leaseToken, { outputs: ['v/someone-else-1/seg.m4s'] });
  assert.equal(((await other.json()) as { code: string }).code, 'OUTPUT_OUTSIDE_DESTINATION');
  const hostile = await presign(a.leaseToken, { outputs: ['../../source/lease.mp4'] });
  assert.equal(((await hostile.json()) as { code: string }).code, 'INVALID_OBJECT_KEY');
  const wrong = await presign('not-the-lease', { input: true });
  assert.equal(((await wrong.json()) as { code: string }).code, 'LEASE_LOST');
  // Canceled: the attempt lost its lease, and no more URLs are given.
  await fetch(`${server.url}/v1/jobs/${a.job.id}/cancel`, { method: 'POST' });
  const after = await presign(a.leaseToken, { input: true });
  assert.equal(after.status, 409);
  assert.equal(((await after.json()) as { code: string }).code, 'LEASE_LOST');
});
