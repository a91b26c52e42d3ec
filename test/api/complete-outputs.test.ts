// Worker API `complete`: a job's outputs can only be objects under its own destination prefix, in its
// own destination bucket. A worker (or whoever holds its token) cannot publish `../../etc` or another
// job's folder as this job's results.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

async function runningJob(t: Parameters<typeof buildTestApi>[0]) {
  const api = await buildTestApi(t);
  await api.put('talk.mp4');
  await api.put('other.mp4');
  const job = (
    await api.app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'talk.mp4' } })
  ).json();
  api.scheduler.poke();
  const launch = await waitFor('a launch', async () => api.launcher.launched[0], 5000);
  const auth = { authorization: `Bearer ${launch.leaseToken}` };
  const url = `/v1/worker/jobs/${job.id}`;
  assert.equal(
    (await api.app.inject({ method: 'POST', url: `${url}/claim`, headers: auth })).statusCode,
    200,
  );
  const stored = await api.store.get(job.id);
  const { bucket, prefix } = stored?.destination ?? { bucket: '', prefix: '' };
  const complete = (outputs: unknown[]) =>
    api.app.inject({ method: 'POST', url: `${url}/complete`, headers: auth, payload: { outputs } });
  return { ...api, job, bucket, prefix, complete };
}

test('complete refuses outputs outside the job destination with OUTPUT_OUTSIDE_DESTINATION; the job keeps running', async (t) => {
  const { complete, store, job, bucket, prefix } = await runningJob(t);
  const hostile = [
    { type: 'hls', bucket: '../../etc', key: '/etc/passwd' },
    { type: 'hls', bucket, key: '/etc/passwd' },
    { type: 'hls', bucket, key: `${prefix}/../other/master.m3u8` },
    { type: 'hls', bucket, key: `${prefix}/%2e%2e/x` },
    { type: 'hls', bucket, key: 'other/master.m3u8' },
    { type: 'hls', bucket, key: `${prefix}-evil/master.m3u8` },
    { type: 'hls', bucket, key: prefix.split('/')[0] ?? 'x' },
    { type: 'hls', bucket: 'source', key: `${prefix}/master.m3u8` },
  ];
  for (const output of hostile) {
    const res = await complete([{ type: 'mp4', bucket, key: `${prefix}/talk.mp4` }, output]);
    assert.equal(res.statusCode, 422, `${JSON.stringify(output)}: ${res.body}`);
    const body = res.json();
    assert.equal(body.code, 'OUTPUT_OUTSIDE_DESTINATION', JSON.stringify(output));
    assert.match(body.detail, new RegExp(`${bucket}/${prefix}/`), 'the message names where outputs must be');
  }
  const after = await store.get(job.id);
  assert.equal(after?.status, 'PROGRESSING', 'a refused completion changes nothing');
  assert.deepEqual(after?.outputs, []);
});

test('complete accepts outputs under the own prefix, the prefix folder itself included (segments)', async (t) => {
  const { complete, store, job, bucket, prefix } = await runningJob(t);
  const res = await complete([
    { type: 'hls', bucket, key: `${prefix}/master.m3u8` },
    { type: 'thumbnail', bucket, key: `${prefix}/thumbnails/talk.jpg` },
    { type: 'segments', bucket, key: `${prefix}/`, size: 10 },
  ]);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((await store.get(job.id))?.status, 'COMPLETE');
});

test('a complete without the attempt token is refused as before, whatever its outputs', async (t) => {
  const { app, job } = await runningJob(t);
  const res = await app.inject({
    method: 'POST',
    url: `/v1/worker/jobs/${job.id}/complete`,
    headers: { authorization: 'Bearer not-the-token' },
    payload: { outputs: [{ type: 'hls', bucket: '../../etc', key: '/etc/passwd' }] },
  });
  assert.equal(res.statusCode, 409);
  assert.equal(res.json().code, 'LEASE_LOST');
});
