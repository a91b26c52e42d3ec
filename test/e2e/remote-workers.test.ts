// Remote pull workers (issue 9 item 4), with real processes on loopback: a pure control plane
// (`sluice serve --no-local-workers`) and `sluice worker --server --token` processes, each in its own empty
// folder with no SLUICE_* variable (no data directory): they reach the input and the outputs only through
// the URLs their assignments grant. Claims, leases, fencing and the storage routes' confinement.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import type { JobEvent } from '../../src/jobs/job.ts';
import type { Assignment } from '../../src/worker/worker-api-client.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer } from '../real-server.ts';
import { startWorker } from '../remote-worker.ts';

type Pulled = Assignment & { leaseToken: string; storage: NonNullable<Assignment['storage']> };

const CONTROL_PLANE = {
  args: ['--no-local-workers'],
  env: { SLUICE_LEASE_SECONDS: '3', SLUICE_HEARTBEAT_SECONDS: '0.5', SLUICE_POOLS: 'spot,on-demand' },
};

async function createToken(server: RealServer, pool?: string): Promise<{ id: string; token: string }> {
  return server.api.createWorkerToken(pool);
}

async function finished(server: RealServer, id: string): Promise<JobView> {
  return waitFor(`job ${id} to finish`, async () => {
    const j = await server.api.getJob(id);
    return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
  });
}

async function events(server: RealServer, id: string): Promise<JobEvent[]> {
  const res = await fetch(`${server.url}/v1/jobs/${id}/events`);
  return ((await res.json()) as { events: JobEvent[] }).events;
}

async function assertOutputsPublished(server: RealServer, job: JobView) {
  assert.equal(job.status, 'COMPLETE', `${job.input.key}: ${job.error?.code} ${job.error?.message}`);
  assert.ok(job.outputs.length > 0, `${job.id} lists outputs`);
  for (const o of job.outputs) {
    const file = path.join(server.dataDir, 'buckets', o.bucket, ...o.key.split('/').filter(Boolean));
    assert.ok(await fs.stat(file).catch(() => null), `${o.bucket}/${o.key} exists`);
  }
  const set = path.join(server.destination, ...job.destination.prefix.split('/'));
  const master = await fs.readFile(path.join(set, 'master.m3u8'), 'utf8');
  // The entry point names the attempt's version folder, and every playlist it names is there.
  for (const line of master.split('\n').filter((l) => l && !l.startsWith('#'))) {
    assert.ok(await fs.stat(path.join(set, line)).catch(() => null), `${line} of the master playlist exists`);
  }
  const staging = path.join(server.destination, '.staging', job.id);
  assert.equal(await fs.stat(staging).catch(() => null), null, 'no staging left');
}

async function claimAs(server: RealServer, token: string, body: object = { waitSeconds: 5 }) {
  const res = await fetch(`${server.url}/v1/worker/claim`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: res.status === 204 ? null : ((await res.json()) as Pulled & { code?: string }),
  };
}

/** A request sent byte for byte as given (fetch would resolve `..` in the path before sending it). */
function raw(
  server: RealServer,
  method: string,
  urlPath: string,
  token: string,
  body?: Buffer,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(body?.length ?? 0),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('remote worker: a pure control plane and a worker with no data directory process 3 clips to COMPLETE', async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const ids: string[] = [];
  for (const key of ['a.mp4', 'b.mp4', 'c.mp4'])
    ids.push(((await server.api.upload(input, key)).jobs[0] as JobView).id);
  const { token } = await createToken(server);
  const worker = await startWorker(t, server, token);
  for (const id of ids) await assertOutputsPublished(server, await finished(server, id));
  for (const id of ids) {
    const evs = await events(server, id);
    assert.equal(evs.filter((e) => e.type === 'job:complete').length, 1, `${id} completed once`);
  }
  assert.deepEqual(await fs.readdir(worker.cwd), [], 'the worker wrote nothing into its own folder');
  const claimed = server.logs().filter((l) => l.msg === 'job claimed by a remote worker');
  assert.deepEqual(claimed.map((l) => l.jobId).sort(), [...ids].sort(), 'every job was claimed remotely');
  assert.equal(server.logs().filter((l) => l.msg === 'worker launched').length, 0, 'no local worker ran');
  // SIGTERM: the idle worker stops claiming and exits cleanly.
  worker.child.kill('SIGTERM');
  assert.deepEqual(await worker.exited, { code: 0, signal: null });
});

test('remote worker --concurrency 2 runs two attempts at once (its token from SLUICE_WORKER_TOKEN)', async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const ids: string[] = [];
  for (const key of ['x.mp4', 'y.mp4'])
    ids.push(((await server.api.upload(input, key)).jobs[0] as JobView).id);
  const { token } = await createToken(server);
  await startWorker(t, server, { env: token }, ['--concurrency', '2']);
  const spans = [];
  for (const id of ids) {
    await assertOutputsPublished(server, await finished(server, id));
    const evs = await events(server, id);
    const started = evs.find((e) => e.type === 'job:started')?.at as string;
    const completed = evs.find((e) => e.type === 'job:complete')?.at as string;
    spans.push({ started, completed });
  }
  const [a, b] = spans as [{ started: string; completed: string }, { started: string; completed: string }];
  assert.ok(
    a.started < b.completed && b.started < a.completed,
    `both attempts ran at once: ${JSON.stringify(spans)}`,
  );
});

test('remote worker: unknown, revoked and wrong-pool tokens are refused with their codes and the worker exits', async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const unknown = await startWorker(t, server, 'sluice_wt_not-a-token');
  assert.equal((await unknown.exited).code, 1);
  assert.match(unknown.stderr(), /WORKER_TOKEN_INVALID/);

  const spot = await createToken(server, 'spot');
  const wrongPool = await startWorker(t, server, spot.token, ['--pool', 'on-demand']);
  assert.equal((await wrongPool.exited).code, 1);
  assert.match(wrongPool.stderr(), /WORKER_POOL_MISMATCH/);

  // A worker waiting in its long poll is refused as soon as its token is revoked.
  const tokenFile = path.join(await tempDir(t), 'worker-token');
  await fs.writeFile(tokenFile, `${spot.token}\n`, { mode: 0o600 });
  const worker = await startWorker(t, server, null, ['--token-file', tokenFile, '--pool', 'spot']);
  await waitFor(
    'the worker to claim',
    async () => (await server.api.listWorkerTokens()).tokens.find((x) => x.id === spot.id)?.lastUsedAt,
  );
  await server.api.revokeWorkerToken(spot.id);
  assert.equal((await worker.exited).code, 1);
  assert.match(worker.stderr(), /WORKER_TOKEN_REVOKED/);
  assert.equal((await claimAs(server, spot.token)).body?.code, 'WORKER_TOKEN_REVOKED');
});

test('remote worker killed with SIGKILL mid-attempt: the lease lapses and the job completes on another worker, once', async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const input = await clip({ width: 160, height: 90, seconds: 6 });
  const { token } = await createToken(server);
  const first = await startWorker(t, server, token);
  const job = (await server.api.upload(input, 'killed.mp4')).jobs[0] as JobView;
  await waitFor('the first worker to start the attempt', async () => {
    const j = await server.api.getJob(job.id);
    return j.status === 'PROGRESSING' && j.phase === 'TRANSCODING';
  });
  process.kill(-(first.child.pid as number), 'SIGKILL');
  await first.exited;
  const second = await startWorker(t, server, token);
  const done = await finished(server, job.id);
  await assertOutputsPublished(server, done);
  assert.equal(done.attempts, 2, 'the lost attempt counted, the second completed');
  const evs = await events(server, job.id);
  assert.equal(evs.filter((e) => e.type === 'job:complete').length, 1, 'completed exactly once');
  assert.ok(
    evs.some((e) => JSON.stringify(e.data).includes('WORKER_LOST')),
    'the first attempt was failed as lost when its lease lapsed',
  );
  // The server has the result before the worker logs that it was taken.
  const ended = await waitFor('the second worker to log the attempt', async () => {
    const lines = second.logs().filter((l) => l.msg === 'attempt ended' && l.jobId === job.id);
    return lines.length > 0 && lines;
  });
  assert.deepEqual(
    ended.map((l) => l.result),
    ['COMPLETE'],
    'the second worker completed it',
  );
  // Only the completed attempt's version is left in the set.
  const versions = await fs.readdir(
    path.join(server.destination, ...done.destination.prefix.split('/'), 'v'),
  );
  assert.deepEqual(versions, [`${job.id}-2`]);
});

test("an attempt's lease token reads only its job's input and writes only inside its own attempt", async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const jobA = (await server.api.upload(input, 'mine.mp4')).jobs[0] as JobView;
  const jobB = (await server.api.upload(input, 'theirs.mp4')).jobs[0] as JobView;
  const { token } = await createToken(server);
  const a = (await claimAs(server, token)).body as Pulled;
  assert.equal(a.job.id, jobA.id, 'the oldest job is claimed first');
  const b = (await claimAs(server, token)).body as Pulled;
  assert.equal(b.job.id, jobB.id);
  const bearer = { authorization: `Bearer ${a.leaseToken}` };

  // Its own input: whole, and from an offset.
  const bytes = await fs.readFile(input);
  const whole = await fetch(new URL(a.storage.input, server.url), { headers: bearer });
  assert.equal(whole.status, 200);
  assert.ok(Buffer.from(await whole.arrayBuffer()).equals(bytes));
  const part = await fetch(new URL(a.storage.input, server.url), {
    headers: { ...bearer, range: 'bytes=100-' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-${bytes.length - 1}/${bytes.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100)));

  // Another job's input and outputs: not this token's.
  const other = await fetch(new URL(b.storage.input, server.url), { headers: bearer });
  assert.equal(other.status, 409);
  assert.equal(((await other.json()) as { code: string }).code, 'LEASE_LOST');
  const bVersion = `v/${jobB.id}-1`;
  const crossJob = await raw(
    server,
    'PUT',
    `${b.storage.outputs}/${bVersion}/x.m4s`,
    a.leaseToken,
    Buffer.from('x'),
  );
  assert.equal(crossJob.body.code, 'LEASE_LOST');

  // Hostile paths under its own outputs URL.
  const refused: [string, string][] = [
    [`${a.storage.outputs}/../../../../etc/evil`, 'traversal'],
    [`${a.storage.outputs}/v/%2E%2E/%2E%2E/evil`, 'encoded traversal'],
    [`${a.storage.outputs}/v%2F..%2F..%2Fevil`, 'encoded separators'],
    [`${a.storage.outputs}/v/${jobB.id}-1/evil.m4s`, "another job's version folder"],
    [`${a.storage.outputs}/v/${jobA.id}-9/evil.m4s`, 'another attempt of its own job'],
  ];
  for (const [url, why] of refused) {
    const res = await raw(server, 'PUT', url, a.leaseToken, Buffer.from('evil'));
    assert.ok(res.status >= 400 && res.status < 500, `${why}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.ok(
      ['INVALID_OBJECT_KEY', 'OUTPUT_OUTSIDE_DESTINATION', 'ROUTE_NOT_FOUND', 'LEASE_LOST'].includes(
        String(res.body.code),
      ),
      `${why}: ${JSON.stringify(res.body)}`,
    );
  }
  const tree = (await fs.readdir(server.dataDir, { recursive: true })).map(String);
  assert.ok(
    !tree.some((f) => f.includes('evil')),
    `nothing was written: ${tree.filter((f) => f.includes('evil'))}`,
  );

  // Its own version folder takes the file, where publish.ts would put it.
  const own = await raw(
    server,
    'PUT',
    `${a.storage.outputs}/v/${jobA.id}-1/seg.m4s`,
    a.leaseToken,
    Buffer.from('seg'),
  );
  assert.equal(own.status, 201, JSON.stringify(own.body));
  const landed = path.join(
    server.destination,
    ...jobA.destination.prefix.split('/'),
    'v',
    `${jobA.id}-1`,
    'seg.m4s',
  );
  assert.equal(await fs.readFile(landed, 'utf8'), 'seg');

  // Results are fenced: the first complete lands, a duplicate and a late fail do not.
  const report = (op: string, body: object) =>
    fetch(`${server.url}/v1/worker/jobs/${jobA.id}/${op}`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const complete = { outputs: [] };
  assert.equal((await report('complete', complete)).status, 200);
  const again = await report('complete', complete);
  assert.equal(again.status, 409);
  assert.equal(((await again.json()) as { code: string }).code, 'LEASE_LOST');
  const lateFail = await report('fail', { code: 'TRANSCODE_FAILED', message: 'late' });
  assert.equal(lateFail.status, 409);
  // Once the attempt ended its URLs are refused too.
  assert.equal((await fetch(new URL(a.storage.input, server.url), { headers: bearer })).status, 409);
  assert.equal(
    (await raw(server, 'PUT', `${a.storage.outputs}/v/${jobA.id}-1/late.m4s`, a.leaseToken, Buffer.from('x')))
      .status,
    409,
  );
  const evs = await events(server, jobA.id);
  assert.equal(evs.filter((e) => e.type === 'job:complete').length, 1);

  // Out of order: B's first attempt lets its lease lapse; its late complete is refused, the new one lands.
  const retried = await waitFor(
    "job B's lost attempt to be claimed again",
    async () => {
      const r = await claimAs(server, token, { waitSeconds: 1 });
      return r.body && r.body.job.id === jobB.id ? r.body : null;
    },
    30_000,
  );
  assert.equal(retried.job.attempt, 2);
  const stale = await fetch(`${server.url}/v1/worker/jobs/${jobB.id}/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${b.leaseToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(complete),
  });
  assert.equal(stale.status, 409, 'the lapsed attempt cannot complete');
  const fresh = await fetch(`${server.url}/v1/worker/jobs/${jobB.id}/complete`, {
    method: 'POST',
    headers: { authorization: `Bearer ${retried.leaseToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(complete),
  });
  assert.equal(fresh.status, 200);
  assert.equal((await server.api.getJob(jobB.id)).status, 'COMPLETE');
});

test('remote worker on SIGTERM mid-attempt: stops claiming, lets its attempt handle the signal, exits', async (t) => {
  const server = await startRealServer(t, CONTROL_PLANE);
  const input = await clip({ width: 160, height: 90, seconds: 6 });
  const { token } = await createToken(server);
  const worker = await startWorker(t, server, token, ['--concurrency', '2']);
  const job = (await server.api.upload(input, 'stopped.mp4')).jobs[0] as JobView;
  await waitFor('the attempt to transcode', async () => {
    const j = await server.api.getJob(job.id);
    return j.status === 'PROGRESSING' && j.phase === 'TRANSCODING';
  });
  worker.child.kill('SIGTERM');
  const exit = await worker.exited;
  assert.equal(exit.code, 0, worker.stderr().slice(-2000));
  // A job submitted after the worker stopped is not claimed by it (nothing else runs here).
  const later = (await server.api.upload(input, 'later.mp4')).jobs[0] as JobView;
  const claimed = server.logs().filter((l) => l.msg === 'job claimed by a remote worker');
  assert.deepEqual(
    claimed.map((l) => l.jobId),
    [job.id],
  );
  assert.equal((await server.api.getJob(later.id)).status, 'SUBMITTED');
  assert.ok(
    worker.logs().some((l) => l.msg === 'stopping: no more claims; running attempts end first'),
    'the worker logged its stop',
  );
});

test('remote worker started while the control plane is down retries with backoff and pulls once it is back', async (t) => {
  const first = await startRealServer(t, CONTROL_PLANE);
  const { token } = await createToken(first);
  await first.stop();
  const worker = await startWorker(t, first, token);
  await waitFor('the worker to retry a few times', async () => {
    const retries = worker.logs().filter((l) => l.msg === 'claim failed; will retry');
    return retries.length >= 2 && retries;
  });
  const retries = worker.logs().filter((l) => l.msg === 'claim failed; will retry');
  assert.ok(
    retries.every((l) => l.code === 'SERVER_UNREACHABLE' && typeof l.retryInMs === 'number'),
    JSON.stringify(retries),
  );
  const port = Number(new URL(first.url).port);
  const server = await startRealServer(t, { ...CONTROL_PLANE, dataDir: first.dataDir, port });
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const job = (await server.api.upload(input, 'back.mp4')).jobs[0] as JobView;
  await assertOutputsPublished(server, await finished(server, job.id));
  assert.equal(worker.child.exitCode, null, 'the worker kept running through the outage');
  // The second server shares the first's data directory, which the first's hook removes: stop it first.
  await server.stop();
});
