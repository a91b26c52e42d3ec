// Bucket names per role (SLUICE_SOURCE_BUCKET, SLUICE_DESTINATION_BUCKET) on the local store, with a
// real `sluice serve`: uploads land in the named source bucket, POST /v1/jobs defaults to it, and the
// outputs go to the named destination; the default names are not used at all.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

test('sluice serve with SLUICE_SOURCE_BUCKET / SLUICE_DESTINATION_BUCKET: uploads, API jobs and outputs use the named buckets', async (t) => {
  const server = await startRealServer(t, {
    env: { SLUICE_SOURCE_BUCKET: 'media-in', SLUICE_DESTINATION_BUCKET: 'media-out' },
  });
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const up = await server.api.upload(input, 'a/talk.mp4');
  assert.equal(up.object.bucket, 'media-in');
  const job = up.jobs[0] as JobView;
  assert.equal(job.destination.bucket, 'media-out');
  const done = await waitFor('the job to finish', async () => {
    const j = await server.api.getJob(job.id);
    return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
  });
  assert.equal(done.status, 'COMPLETE', done.error?.message);
  const buckets = path.join(server.dataDir, 'buckets');
  assert.deepEqual((await fs.readdir(buckets)).sort(), ['media-in', 'media-out']);
  assert.ok(await fs.stat(path.join(buckets, 'media-out', 'a', 'talk.mp4', 'tiny', 'master.m3u8')));
  // POST /v1/jobs without a bucket reads the source bucket, and publishes to the destination.
  const res = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'a/talk.mp4', template: 'tiny' }),
  });
  const api = (await res.json()) as JobView;
  assert.equal(res.status, 201, JSON.stringify(api));
  assert.equal(api.input.bucket, 'media-in');
  assert.equal(api.destination.bucket, 'media-out');
  // The source bucket may not be a destination (its outputs would become jobs).
  const loop = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'a/talk.mp4', destinationBucket: 'media-in' }),
  });
  assert.equal(((await loop.json()) as { code: string }).code, 'INVALID_DESTINATION');
});
