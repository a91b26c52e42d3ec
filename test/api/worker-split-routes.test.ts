// The Worker API of chunked jobs over Fastify inject (real SQLite, real local buckets): split refuses a
// job whose template does not chunk and chunks that do not meet; a split job holds no lease (its old token
// is refused); a part writes only its own folder of the parts area, reads the area, and cannot split.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../../src/jobs/job.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { planChunks } from '../../src/templates/chunk-plan.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { waitFor } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

const CHUNKS = planChunks({
  durationSeconds: 60,
  sourceStartSeconds: 0,
  frameRate: 25,
  segmentSeconds: 4,
  chunkSeconds: 20,
  minInputSeconds: 30,
});
const MEDIA = { container: 'mov', durationSeconds: 60, video: null, audio: null, streamCount: 1 };

async function claimed(t: Parameters<typeof buildTestApi>[0], chunking: boolean) {
  const api = await buildTestApi(t);
  const base = getBuiltinTemplate('abr-default');
  const template = parseTemplate({
    ...base,
    chunking: { enabled: chunking, chunkSeconds: 20, minInputSeconds: 30 },
  });
  const { job } = await api.store.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'long.mp4' },
      templateName: template.name,
      template,
      destination: { bucket: 'destination', prefix: 'long.mp4' },
      userMetadata: {},
      idempotencyKey: `long-${chunking}`,
    },
    new Date(),
  );
  api.scheduler.poke();
  const launch = await waitFor('a launch', async () => api.launcher.launched[0], 5000);
  await api.scheduler.stop(); // the parts are claimed by the test, not launched
  const auth = { authorization: `Bearer ${launch.leaseToken}` };
  const url = `/v1/worker/jobs/${job.id}`;
  assert.equal(
    (await api.app.inject({ method: 'POST', url: `${url}/claim`, headers: auth })).statusCode,
    200,
  );
  return { ...api, job, auth, url };
}

test('split: refused for a template that does not chunk, and for chunks that do not meet', async (t) => {
  const plain = await claimed(t, false);
  const refused = await plain.app.inject({
    method: 'POST',
    url: `${plain.url}/split`,
    headers: plain.auth,
    payload: { chunks: CHUNKS, inputMedia: MEDIA },
  });
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.json().code, 'VALIDATION_FAILED');
  assert.match(refused.json().detail, /chunking\.enabled is false/);
  assert.equal((await plain.store.get(plain.job.id))?.split, null);

  const { app, url, auth, store, job } = await claimed(t, true);
  const gap = structuredClone(CHUNKS) as NonNullable<typeof CHUNKS>;
  (gap[1] as { firstFrame: number }).firstFrame += 1;
  const torn = await app.inject({
    method: 'POST',
    url: `${url}/split`,
    headers: auth,
    payload: { chunks: gap, inputMedia: MEDIA },
  });
  assert.equal(torn.statusCode, 400);
  assert.match(torn.json().detail, /does not follow/);
  assert.deepEqual(await store.listParts(job.id), []);
});

test('split: the parts are made, the job holds no lease; a part writes only its own folder and cannot split', async (t) => {
  const { app, url, auth, store, job } = await claimed(t, true);
  const res = await app.inject({
    method: 'POST',
    url: `${url}/split`,
    headers: auth,
    payload: { chunks: CHUNKS, inputMedia: MEDIA },
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'PROGRESSING', parts: 4, reused: 0 });
  const parts = await store.listParts(job.id);
  assert.equal(parts.length, 4);
  const beat = await app.inject({ method: 'POST', url: `${url}/heartbeat`, headers: auth, payload: {} });
  assert.equal(beat.json().code, 'LEASE_LOST', 'the split job’s own attempt is over');

  const part = (await store.claimNext('tok-part', 60_000, new Date())) as Job;
  assert.equal(part.parentId, job.id);
  const pAuth = { authorization: 'Bearer tok-part' };
  const pUrl = `/v1/worker/jobs/${part.id}/parts`;
  const put = (rel: string) =>
    app.inject({
      method: 'PUT',
      url: `${pUrl}/${rel}`,
      headers: { ...pAuth, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('segment'),
    });
  assert.equal((await put('chunk-0000/chunk-0-00001.m4s')).statusCode, 201);
  const other = await put('chunk-0001/chunk-0-00006.m4s');
  assert.equal(other.json().code, 'OUTPUT_OUTSIDE_DESTINATION');
  const escaping = await put('chunk-0000/..%2F..%2Fv%2Fx.m4s');
  assert.ok(escaping.statusCode >= 400, `an escaping key is refused (${escaping.statusCode})`);
  const got = await app.inject({
    method: 'GET',
    url: `${pUrl}/chunk-0000/chunk-0-00001.m4s`,
    headers: pAuth,
  });
  assert.equal(got.statusCode, 200);
  assert.equal(got.body, 'segment');
  const missing = await app.inject({ method: 'GET', url: `${pUrl}/chunk-0002/receipt.json`, headers: pAuth });
  assert.equal(missing.json().code, 'OBJECT_NOT_FOUND');
  const again = await app.inject({
    method: 'POST',
    url: `/v1/worker/jobs/${part.id}/split`,
    headers: pAuth,
    payload: { chunks: CHUNKS, inputMedia: MEDIA },
  });
  assert.match(again.json().detail, /is a part of job/);
  // Without the part's lease, nothing.
  const stranger = await app.inject({
    method: 'GET',
    url: `${pUrl}/chunk-0000/chunk-0-00001.m4s`,
    headers: { authorization: 'Bearer nope' },
  });
  assert.equal(stranger.json().code, 'LEASE_LOST');
});
