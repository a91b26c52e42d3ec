// API routes through Fastify's inject() on a real SQLite store and real local buckets (test-api.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { isLoopback, loadOrCreateToken } from '../../src/api/api-token.ts';
import { objectCreatedEvent } from '../../src/ingest/object-event.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

const setup = buildTestApi;

function assertProblem(
  res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  code: string,
) {
  assert.equal(res.statusCode, status);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as { code: string; status: number; detail: string; title: string };
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.ok(body.detail.length > 0, 'problem has a detail a user can act on');
}

test('GET /v1/health reports ok and job counts per status', async (t) => {
  const { app } = await setup(t);
  const res = await app.inject('/v1/health');
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.status, 'ok');
  assert.deepEqual(Object.keys(body.jobs).sort(), [
    'CANCELED',
    'COMPLETE',
    'ERROR',
    'PROGRESSING',
    'SUBMITTED',
  ]);
});

test('unknown job id is a 404 problem+json JOB_NOT_FOUND on both /v1/jobs/:id and /jobs/:id', async (t) => {
  const { app } = await setup(t);
  assertProblem(await app.inject('/v1/jobs/job_nope'), 404, 'JOB_NOT_FOUND');
  assertProblem(await app.inject('/jobs/job_nope'), 404, 'JOB_NOT_FOUND');
  assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs/job_nope/cancel' }), 404, 'JOB_NOT_FOUND');
});

test('unknown status filter is a 400 INVALID_STATUS; unknown route a 404 ROUTE_NOT_FOUND', async (t) => {
  const { app } = await setup(t);
  assertProblem(await app.inject('/v1/jobs?status=DONE'), 400, 'INVALID_STATUS');
  assertProblem(await app.inject('/v2/nothing'), 404, 'ROUTE_NOT_FOUND');
});

test('POST /v1/jobs makes one job per object version and validates its input', async (t) => {
  const { app, put } = await setup(t);
  assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs', payload: {} }), 400, 'VALIDATION_FAILED');
  assertProblem(
    await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'missing.mp4' } }),
    404,
    'OBJECT_NOT_FOUND',
  );
  assertProblem(
    await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: '../etc/passwd' } }),
    400,
    'INVALID_OBJECT_KEY',
  );
  await put('in/clip.mp4');
  assertProblem(
    await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'in/clip.mp4', template: 'nope' } }),
    400,
    'TEMPLATE_NOT_FOUND',
  );
  const first = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { key: 'in/clip.mp4', userMetadata: { course: 'c1' } },
  });
  assert.equal(first.statusCode, 201);
  const job = first.json();
  assert.equal(job.status, 'SUBMITTED');
  assert.equal(job.destination.prefix, 'in/clip.mp4/abr-default');
  assert.deepEqual(job.userMetadata, { course: 'c1' });
  assert.equal(job.leaseToken, undefined, 'the lease token never leaves the server');
  const again = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'in/clip.mp4' } });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().id, job.id, 'same object version, same job');
});

test('GET /v1/jobs?status= and the seed routes /jobs/<STATUS> and /jobs/<id> list and show jobs', async (t) => {
  const { app, put, scheduler } = await setup(t);
  await scheduler.stop(); // nothing gets claimed: this test is about listing
  await put('a.mp4');
  await put('b.mp4');
  const a = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'a.mp4' } })).json();
  const b = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'b.mp4' } })).json();
  await app.inject({ method: 'POST', url: `/v1/jobs/${a.id}/cancel` });
  const submitted = (await app.inject('/jobs/SUBMITTED')).json().jobs.map((j: { id: string }) => j.id);
  assert.deepEqual(submitted, [b.id]);
  const canceled = (await app.inject('/v1/jobs?status=canceled'))
    .json()
    .jobs.map((j: { id: string }) => j.id);
  assert.deepEqual(canceled, [a.id]);
  const all = (await app.inject('/v1/jobs')).json().jobs.map((j: { id: string }) => j.id);
  assert.deepEqual(all, [b.id, a.id], 'newest first');
  const shown = (await app.inject(`/jobs/${b.id}`)).json();
  assert.equal(shown.id, b.id);
  assert.equal(shown.input.key, 'b.mp4');
  assert.ok('progress' in shown && 'inputMedia' in shown);
});

test('cancel moves SUBMITTED to CANCELED once (again is 409 INVALID_TRANSITION)', async (t) => {
  const { app, put, scheduler } = await setup(t);
  await scheduler.stop(); // the job stays SUBMITTED until it is canceled
  await put('c.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'c.mp4' } })).json();
  const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'CANCELED');
  assertProblem(
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` }),
    409,
    'INVALID_TRANSITION',
  );
  const events = (await app.inject(`/v1/jobs/${job.id}/events`))
    .json()
    .events.map((e: { type: string }) => e.type);
  assert.deepEqual(events, ['job:created', 'job:canceled']);
});

/** Drives one attempt of `jobId` through the Worker API as a worker would: claim with the launch's token. */
async function claimLaunch(
  app: Awaited<ReturnType<typeof setup>>['app'],
  launcher: Awaited<ReturnType<typeof setup>>['launcher'],
  scheduler: Awaited<ReturnType<typeof setup>>['scheduler'],
  jobId: string,
  n: number,
) {
  const launch = await waitFor(
    `launch ${n} of ${jobId}`,
    async () => {
      scheduler.poke();
      return launcher.launched.filter((l) => l.jobId === jobId)[n - 1];
    },
    5000,
  );
  const auth = { authorization: `Bearer ${launch.leaseToken}` };
  const claim = await app.inject({ method: 'POST', url: `/v1/worker/jobs/${jobId}/claim`, headers: auth });
  assert.equal(claim.statusCode, 200, `attempt ${n} claims the job`);
  return auth;
}

test('POST /v1/jobs/:id/retry puts an ERROR job back in SUBMITTED with attempts reset; a new attempt claims it', async (t) => {
  const { app, put, scheduler, launcher, store } = await setup(t);
  await put('r.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'r.mp4' } })).json();
  const first = await claimLaunch(app, launcher, scheduler, job.id, 1);
  const failed = await app.inject({
    method: 'POST',
    url: `/v1/worker/jobs/${job.id}/fail`,
    headers: first,
    payload: { code: 'INPUT_UNREADABLE', message: 'not a media file' },
  });
  assert.equal(failed.statusCode, 200);
  const dead = (await app.inject(`/v1/jobs/${job.id}`)).json();
  assert.equal(dead.status, 'ERROR');
  assert.equal(dead.attempts, 1);
  assert.equal(dead.error.code, 'INPUT_UNREADABLE');

  const res = await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/retry` });
  assert.equal(res.statusCode, 200);
  const retried = res.json();
  assert.equal(retried.id, job.id);
  assert.equal(retried.status, 'SUBMITTED');
  assert.equal(retried.attempts, 0, 'a fresh set of attempts');
  assert.equal(retried.error, null);
  // The scheduler, poked by the retry, may already have claimed it again: the resubmit follows the error.
  const events = (await store.events(job.id)).map((e) => e.type);
  const error = events.indexOf('job:error');
  assert.deepEqual(events.slice(error, error + 2), ['job:error', 'job:resubmitted']);

  // The retry pokes the scheduler: a second attempt is launched and claims the job with its own token.
  const second = await claimLaunch(app, launcher, scheduler, job.id, 2);
  assert.notEqual(second.authorization, first.authorization);
  const running = await store.get(job.id);
  assert.equal(running?.status, 'PROGRESSING');
  assert.equal(running?.attempts, 1, 'the new attempt is attempt 1 of a fresh set');
  assertProblem(
    await app.inject({
      method: 'POST',
      url: `/v1/worker/jobs/${job.id}/heartbeat`,
      headers: first,
      payload: {},
    }),
    409,
    'LEASE_LOST',
  );

  // While it runs (concurrency 1), another job waits in SUBMITTED: retrying that is refused.
  await put('s.mp4');
  const waiting = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 's.mp4' } })).json();
  assert.equal((await store.get(waiting.id))?.status, 'SUBMITTED');
  assertProblem(
    await app.inject({ method: 'POST', url: `/v1/jobs/${waiting.id}/retry` }),
    409,
    'INVALID_TRANSITION',
  );
  assert.equal((await store.get(waiting.id))?.attempts, 0);

  // A COMPLETE job cannot be retried either, and keeps its outputs.
  const done = await app.inject({
    method: 'POST',
    url: `/v1/worker/jobs/${job.id}/complete`,
    headers: second,
    payload: {
      outputs: [{ type: 'hls', bucket: 'destination', key: 'r.mp4/abr-default/master.m3u8', size: 10 }],
    },
  });
  assert.equal(done.statusCode, 200);
  assertProblem(
    await app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/retry` }),
    409,
    'INVALID_TRANSITION',
  );
  const final = await store.get(job.id);
  assert.equal(final?.status, 'COMPLETE');
  assert.equal(final?.outputs.length, 1);
  assertProblem(await app.inject({ method: 'POST', url: '/v1/jobs/job_nope/retry' }), 404, 'JOB_NOT_FOUND');
});

test('PUT /v1/uploads/<key> stores the object in the source bucket and makes its job', async (t) => {
  const { app, objects, ingest } = await setup(t);
  const res = await app.inject({
    method: 'PUT',
    url: '/v1/uploads/lessons/intro.mov',
    headers: { 'content-type': 'application/octet-stream' },
    payload: Buffer.from('0123456789'),
  });
  assert.equal(res.statusCode, 201);
  const body = res.json();
  assert.equal(body.object.size, 10);
  assert.equal(body.jobs.length, 1);
  assert.equal(body.jobs[0].input.key, 'lessons/intro.mov');
  const stored = await objects.stat('source', 'lessons/intro.mov');
  assert.equal(stored?.size, 10);
  // The bucket watcher later sees the same object version: it finds the upload's job, makes no other.
  assert.ok(stored);
  const seen = await ingest.handle(objectCreatedEvent(stored, 'sluice://buckets/source'));
  assert.deepEqual(
    seen.jobs.map((j) => j.id),
    [body.jobs[0].id],
  );
  assert.equal(seen.created, 0);
  const unknownTemplate = await app.inject({
    method: 'PUT',
    url: '/v1/uploads/other.mp4?template=nope',
    headers: { 'content-type': 'application/octet-stream' },
    payload: 'x',
  });
  assertProblem(unknownTemplate, 400, 'TEMPLATE_NOT_FOUND');
  assert.equal(await objects.stat('source', 'other.mp4'), null, 'nothing stored for a refused upload');
  const text = await app.inject({
    method: 'PUT',
    url: '/v1/uploads/notes.txt',
    headers: { 'content-type': 'application/octet-stream' },
    payload: 'hello',
  });
  assertProblem(text, 422, 'NO_MATCHING_PIPELINE');
  const hostile = await app.inject({
    method: 'PUT',
    url: '/v1/uploads/..%2F..%2Fescape.mp4',
    headers: { 'content-type': 'application/octet-stream' },
    payload: 'x',
  });
  assertProblem(hostile, 400, 'INVALID_OBJECT_KEY');
});

test('Worker API: no token is 401, a wrong token 409 LEASE_LOST, the attempt token drives the job', async (t) => {
  const { app, put, scheduler, launcher, store } = await setup(t);
  await put('w.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'w.mp4' } })).json();
  scheduler.poke();
  const launch = await waitFor('a launch', async () => launcher.launched[0], 5000);
  assert.equal(launch.jobId, job.id);
  const url = `/v1/worker/jobs/${job.id}`;
  assertProblem(await app.inject({ method: 'POST', url: `${url}/claim` }), 401, 'UNAUTHORIZED');
  assertProblem(
    await app.inject({
      method: 'POST',
      url: `${url}/claim`,
      headers: { authorization: 'Bearer not-the-token' },
    }),
    409,
    'LEASE_LOST',
  );
  const auth = { authorization: `Bearer ${launch.leaseToken}` };
  const claim = await app.inject({ method: 'POST', url: `${url}/claim`, headers: auth });
  assert.equal(claim.statusCode, 200);
  assert.equal(claim.json().job.input.key, 'w.mp4');
  assert.equal(claim.json().job.template.name, 'abr-default');
  const beat = await app.inject({
    method: 'POST',
    url: `${url}/heartbeat`,
    headers: auth,
    payload: { phase: 'TRANSCODING', progress: { percent: 42.5, fps: 90, speed: 3, etaSeconds: 2 } },
  });
  assert.equal(beat.statusCode, 200);
  const shown = (await app.inject(`/v1/jobs/${job.id}`)).json();
  assert.equal(shown.phase, 'TRANSCODING');
  assert.deepEqual(shown.progress, { percent: 42.5, fps: 90, speed: 3, etaSeconds: 2 });
  assertProblem(
    await app.inject({
      method: 'POST',
      url: `${url}/heartbeat`,
      headers: auth,
      payload: { progress: { percent: 101 } },
    }),
    400,
    'VALIDATION_FAILED',
  );
  const done = await app.inject({
    method: 'POST',
    url: `${url}/complete`,
    headers: auth,
    payload: {
      outputs: [{ type: 'hls', bucket: 'destination', key: 'w.mp4/abr-default/master.m3u8', size: 10 }],
    },
  });
  assert.equal(done.statusCode, 200);
  const final = await store.get(job.id);
  assert.equal(final?.status, 'COMPLETE');
  assert.equal(final?.outputs[0]?.key, 'w.mp4/abr-default/master.m3u8');
  assertProblem(
    await app.inject({ method: 'POST', url: `${url}/heartbeat`, headers: auth, payload: {} }),
    409,
    'LEASE_LOST',
  );
});

test('beyond loopback the API needs the bearer token (health and the Worker API excepted)', async (t) => {
  const { app } = await setup(t, { apiToken: 'sekrit-token' });
  assertProblem(await app.inject('/v1/jobs'), 401, 'UNAUTHORIZED');
  assertProblem(
    await app.inject({ url: '/jobs/COMPLETE', headers: { authorization: 'Bearer wrong' } }),
    401,
    'UNAUTHORIZED',
  );
  assert.equal(
    (await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer sekrit-token' } })).statusCode,
    200,
  );
  assert.equal((await app.inject('/v1/health')).statusCode, 200);
  // The Worker API answers on its own terms (the attempt token), not the API token.
  assertProblem(
    await app.inject({ method: 'POST', url: '/v1/worker/jobs/job_x/claim' }),
    401,
    'UNAUTHORIZED',
  );
  assertProblem(
    await app.inject({
      method: 'POST',
      url: '/v1/worker/jobs/job_x/claim',
      headers: { authorization: 'Bearer t' },
    }),
    404,
    'JOB_NOT_FOUND',
  );
});

test('the token is made once, kept 0600 in the data directory, and reused', async (t) => {
  const dir = await tempDir(t);
  const first = await loadOrCreateToken(dir);
  assert.equal(first.created, true);
  assert.ok(first.token.length >= 40);
  const again = await loadOrCreateToken(dir);
  assert.deepEqual(again, { token: first.token, created: false });
  assert.equal((await fs.stat(path.join(dir, 'api-token'))).mode & 0o777, 0o600);
  assert.equal(isLoopback('127.0.0.1'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('0.0.0.0'), false);
});

test('uploads over the size limit are refused with 413 PAYLOAD_TOO_LARGE and nothing is stored', async (t) => {
  const { app, objects } = await setup(t, { maxUploadBytes: 5 });
  const res = await app.inject({
    method: 'PUT',
    url: '/v1/uploads/big.mp4',
    headers: { 'content-type': 'application/octet-stream' },
    payload: Buffer.alloc(10),
  });
  assertProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  assert.equal(await objects.stat('source', 'big.mp4'), null);
  const json = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'x'.repeat(2 << 20) } });
  assertProblem(json, 413, 'PAYLOAD_TOO_LARGE');
});

test('fencing: a worker paused past its lease can neither heartbeat, complete nor fail the newer attempt', async (t) => {
  const { app, put, scheduler, launcher, store } = await setup(t, { leaseMs: 300 });
  await put('f.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'f.mp4' } })).json();
  scheduler.poke();
  const stale = await waitFor('first launch', async () => launcher.launched[0], 5000);
  const staleAuth = { authorization: `Bearer ${stale.leaseToken}` };
  assert.equal(
    (await app.inject({ method: 'POST', url: `/v1/worker/jobs/${job.id}/claim`, headers: staleAuth }))
      .statusCode,
    200,
  );
  // The worker stops heartbeating (paused); once its lease lapses the job goes to a new attempt.
  const fresh = await waitFor(
    'second launch after the lease lapsed',
    async () => {
      scheduler.poke();
      return launcher.launched[1];
    },
    10_000,
  );
  assert.notEqual(fresh.leaseToken, stale.leaseToken);
  // The paused worker resumes and reports: every call is refused, and the job keeps the newer attempt.
  for (const [op, payload] of [
    ['heartbeat', { progress: { percent: 50 } }],
    ['complete', { outputs: [] }],
    ['fail', { code: 'TRANSCODE_FAILED', message: 'late', retryable: false }],
  ] as const) {
    assertProblem(
      await app.inject({
        method: 'POST',
        url: `/v1/worker/jobs/${job.id}/${op}`,
        headers: staleAuth,
        payload,
      }),
      409,
      'LEASE_LOST',
    );
  }
  const current = await store.get(job.id);
  assert.equal(current?.status, 'PROGRESSING');
  assert.equal(current?.attempts, 2);
  const retry = (await store.events(job.id)).find((e) => e.type === 'job:retry');
  assert.equal(
    (retry?.data.error as { code: string } | undefined)?.code,
    'WORKER_LOST',
    'the lapsed attempt is on record',
  );
});
