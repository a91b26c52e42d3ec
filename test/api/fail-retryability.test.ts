// The server, not the worker, decides whether a failed attempt is retried: from the error code's entry in
// ERROR_CATALOGUE. A worker's own `retryable` claim (old workers still send one) is ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

async function claimedJob(t: Parameters<typeof buildTestApi>[0]) {
  const { app, put, scheduler, launcher, store } = await buildTestApi(t);
  await put('r.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'r.mp4' } })).json();
  scheduler.poke();
  const launch = await waitFor('a launch', async () => launcher.launched[0], 5000);
  const auth = { authorization: `Bearer ${launch.leaseToken}` };
  const url = `/v1/worker/jobs/${job.id}`;
  assert.equal((await app.inject({ method: 'POST', url: `${url}/claim`, headers: auth })).statusCode, 200);
  const fail = (payload: object) =>
    app.inject({ method: 'POST', url: `${url}/fail`, headers: auth, payload });
  return { id: job.id as string, store, scheduler, fail };
}

test('a non-retryable code ends the job in ERROR at attempt 1, whatever the worker claims', async (t) => {
  const { id, store, fail } = await claimedJob(t);
  const res = await fail({ code: 'INPUT_UNREADABLE', message: 'not media', retryable: true });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'ERROR');
  const job = await store.get(id);
  assert.equal(job?.status, 'ERROR');
  assert.equal(job?.attempts, 1);
  assert.equal(job?.error?.code, 'INPUT_UNREADABLE');
});

test('a retryable code goes back for another attempt, whatever the worker claims', async (t) => {
  const { id, store, scheduler, fail } = await claimedJob(t);
  await scheduler.stop(); // the retry is observed as SUBMITTED, not raced by a second launch
  const res = await fail({ code: 'TRANSCODE_FAILED', message: 'ffmpeg crashed', retryable: false });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'SUBMITTED');
  const retry = (await store.events(id)).find((e) => e.type === 'job:retry');
  assert.equal((retry?.data.error as { code: string } | undefined)?.code, 'TRANSCODE_FAILED');
});

test('the worker need not send a retry flag at all', async (t) => {
  const { fail } = await claimedJob(t);
  const res = await fail({ code: 'INPUT_UNREADABLE', message: 'not media' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().status, 'ERROR');
});
