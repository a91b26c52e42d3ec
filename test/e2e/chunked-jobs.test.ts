// Chunked jobs end to end through a real `sluice serve` with its local workers (issue 13): a 30 s input
// under a chunked template is split by its first attempt into 3 chunk parts (each with its sprite frames)
// and the audio part (audio, poster), each run
// by a launched worker of its own; the stitch joins them and the job completes with the single pass's
// outputs (HLS, DASH, MP4, poster, sprites), every frame there. The parts are listed under the job and
// left out of the job list; the parts area is gone once the job is COMPLETE. Cancel acts on the whole.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, countFrames, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

export const CHUNKED_TEMPLATE = {
  ladder: [
    { name: '180p', height: 180, videoBitrateKbps: 300 },
    { name: '90p', height: 90, videoBitrateKbps: 120 },
  ],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 2 },
  sprites: { enabled: true },
  chunking: { enabled: true, chunkSeconds: 10, minInputSeconds: 20 },
};

test('a chunked job through sluice serve: split into parts, each run by a worker, stitched, COMPLETE', async (t) => {
  const server = await startRealServer(t, {
    templates: { chunked: CHUNKED_TEMPLATE },
    env: { SLUICE_DEFAULT_TEMPLATE: 'chunked' },
    args: ['--concurrency', '2'],
  });
  const input = await clip({ width: 320, height: 180, seconds: 30, fps: 25 });
  await fs.mkdir(server.source, { recursive: true });
  await fs.copyFile(input, path.join(server.source, 'long.mp4'));
  const job = await waitFor(
    'the job COMPLETE',
    async () => {
      const { jobs } = await server.api.listJobs(undefined, 100);
      const j = jobs[0];
      if (j && (j.status === 'ERROR' || j.status === 'CANCELED'))
        throw new Error(`job ended ${j.status}: ${j.error?.code} ${j.error?.message}`);
      return j?.status === 'COMPLETE' && j;
    },
    180_000,
  );
  // The list shows the job only; its parts are under it.
  assert.equal((await server.api.listJobs(undefined, 100)).jobs.length, 1);
  const res = await fetch(`${server.url}/v1/jobs/${job.id}/parts`);
  const { parts } = (await res.json()) as { parts: JobView[] };
  assert.deepEqual(
    parts.map((p) => (p.part?.kind === 'chunk' ? `chunk ${p.part.index}` : p.part?.kind)),
    ['chunk 0', 'chunk 1', 'chunk 2', 'audio', 'stitch'],
  );
  assert.ok(parts.every((p) => p.status === 'COMPLETE' && p.parentId === job.id));
  const history = (await (await fetch(`${server.url}/v1/jobs/${job.id}/events`)).json()) as {
    events: { type: string }[];
  };
  const events = history.events.map((e) => e.type);
  assert.ok(events.includes('job:split'), events.join(' '));
  assert.equal(events.at(-1), 'job:complete');
  const types = job.outputs.map((o) => o.type).sort();
  for (const type of ['hls', 'dash', 'mp4', 'thumbnail', 'sprites'])
    assert.ok(types.includes(type), types.join());
  // Every frame of the input, in the stitched HLS and in the MP4.
  const master = path.join(server.destination, job.destination.prefix, 'master.m3u8');
  assert.equal(await countFrames(master), 750);
  const mp4 = job.outputs.find((o) => o.type === 'mp4');
  assert.equal(
    await countFrames(path.join(server.dataDir, 'buckets', mp4?.bucket ?? '', mp4?.key ?? '')),
    750,
  );
  // The parts area went with the job's completion.
  const areas = await fs.readdir(path.join(server.destination, '.parts')).catch(() => []);
  assert.deepEqual(areas, []);
});

test('cancel and retry act on the whole: canceled with its parts; retried, only the parts without a receipt run', async (t) => {
  const server = await startRealServer(t, {
    templates: { chunked: CHUNKED_TEMPLATE },
    env: { SLUICE_DEFAULT_TEMPLATE: 'chunked' },
  });
  const input = await clip({ width: 320, height: 180, seconds: 40, fps: 25 });
  const job = (await server.api.upload(input, 'talk.mp4')).jobs[0] as JobView;
  const partsOf = async () =>
    ((await (await fetch(`${server.url}/v1/jobs/${job.id}/parts`)).json()) as { parts: JobView[] }).parts;
  await waitFor(
    'a first part COMPLETE',
    async () => (await partsOf()).some((p) => p.status === 'COMPLETE'),
    120_000,
  );
  const canceled = await server.api.cancel(job.id);
  assert.equal(canceled.status, 'CANCELED');
  const doneBefore = await waitFor('its parts to stop', async () => {
    const parts = await partsOf();
    return parts.every((p) => p.status === 'COMPLETE' || p.status === 'CANCELED') && parts;
  });
  const kept = doneBefore.filter((p) => p.status === 'COMPLETE').map((p) => p.id);
  assert.ok(
    kept.length >= 1 && kept.length < doneBefore.length,
    `${kept.length} of ${doneBefore.length} done`,
  );
  // A part cannot be retried on its own: the job is.
  const refused = await fetch(`${server.url}/v1/jobs/${kept[0]}/retry`, { method: 'POST' });
  assert.equal(((await refused.json()) as { code: string }).code, 'INVALID_TRANSITION');
  await server.api.retry(job.id);
  const done = await waitFor(
    'the retried job COMPLETE',
    async () => {
      const j = await server.api.getJob(job.id);
      if (j.status === 'ERROR') throw new Error(`${j.error?.code}: ${j.error?.message}`);
      return j.status === 'COMPLETE' && j;
    },
    180_000,
  );
  assert.ok(done.outputs.some((o) => o.type === 'hls'));
  const parts = await partsOf();
  for (const p of parts) {
    const evs = (
      (await (await fetch(`${server.url}/v1/jobs/${p.id}/events`)).json()) as { events: { type: string }[] }
    ).events;
    const claims = evs.filter((e) => e.type === 'job:claimed').length;
    if (kept.includes(p.id)) assert.equal(claims, 1, `${p.id} was done before the cancel: not run again`);
    else assert.ok(p.status === 'COMPLETE', `${p.id} ran again to COMPLETE`);
  }
  const history = (
    (await (await fetch(`${server.url}/v1/jobs/${job.id}/events`)).json()) as { events: { type: string }[] }
  ).events.map((e) => e.type);
  assert.equal(history.filter((e) => e === 'job:split').length, 2, history.join(' '));
  assert.equal(
    await countFrames(path.join(server.destination, done.destination.prefix, 'master.m3u8')),
    1000,
  );
});
