// Resume of a chunked job (issue 13's second must-show), with real processes on loopback: a pure control
// plane and remote `sluice worker` processes. A 40 s input in 4 chunks; the only worker is killed
// (SIGKILL, its whole process group, as a machine that dies) while it encodes chunk 3 of 4. A second
// worker finishes the job. Afterwards chunks 1, 2 and 4 were encoded once (one claim, one complete each,
// and the stitch joined the receipts their first attempts wrote), chunk 3 twice; the result has the same
// files, segments and segment durations as a clean run of the same input, decodes to every frame as HLS,
// DASH and MP4, and plays start to end in hls.js and dash.js. In test:slow (once; it starts Chromium).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import type { JobEvent } from '../../src/jobs/job.ts';
import { clip, countFrames, waitFor } from '../helpers.ts';
import { assertPlayedWhole, CHROMIUM, play, startHarness } from '../players/play-harness.ts';
import { type RealServer, startRealServer } from '../real-server.ts';
import { startWorker } from '../remote-worker.ts';

const TEMPLATE = {
  ladder: [
    { name: '360p', height: 360, videoBitrateKbps: 800 },
    { name: '180p', height: 180, videoBitrateKbps: 300 },
  ],
  video: { preset: 'veryfast' },
  packaging: { segmentSeconds: 2 },
  chunking: { enabled: true, chunkSeconds: 10, minInputSeconds: 20 },
};

async function parts(server: RealServer, id: string): Promise<JobView[]> {
  const res = await fetch(`${server.url}/v1/jobs/${id}/parts`);
  return ((await res.json()) as { parts: JobView[] }).parts;
}

async function events(server: RealServer, id: string): Promise<JobEvent[]> {
  const res = await fetch(`${server.url}/v1/jobs/${id}/events`);
  return ((await res.json()) as { events: JobEvent[] }).events;
}

const label = (p: JobView) => (p.part?.kind === 'chunk' ? `chunk-${p.part.index}` : (p.part?.kind ?? '?'));

/**
 * A published set's structure: every file, relative to its version folder; each media playlist's text
 * (segment names and durations); the MPD's segment timelines. Not the bytes: x264's rate control with
 * frame threads is not bit-for-bit repeatable (two runs of one ABR encode differ; a single thread or CRF
 * does not), so a chunk encoded again is an equal stream, not the same bytes.
 */
async function structure(server: RealServer, job: JobView, name: string): Promise<Record<string, string>> {
  const root = path.join(server.destination, ...job.destination.prefix.split('/'));
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        await walk(full, r);
        continue;
      }
      // The version folder's name is the attempt's, the MP4's and poster's the input's.
      const key = r.replace(/^v\/[^/]+\//, 'v/*/').replaceAll(name, 'NAME');
      const text = (await fs.readFile(full, 'utf8')).replace(/v\/[^/"]+\//g, 'v/*/');
      if (/media_\d+\.m3u8$/.test(e.name)) out[key] = text;
      else if (e.name === 'manifest.mpd') out[key] = (text.match(/<S [^>]*>/g) ?? []).join('\n');
      else out[key] = 'file';
    }
  };
  await walk(root, '');
  return out;
}

test('resume: a worker killed during chunk 3 of 4; only chunk 3 is encoded again, and the result is the clean run’s', async (t) => {
  const server = await startRealServer(t, {
    args: ['--no-local-workers'],
    templates: { chunked: TEMPLATE },
    env: {
      SLUICE_DEFAULT_TEMPLATE: 'chunked',
      SLUICE_LEASE_SECONDS: '3',
      SLUICE_HEARTBEAT_SECONDS: '0.5',
    },
  });
  const input = await clip({ width: 640, height: 360, seconds: 40, fps: 25 });
  const { token } = await server.api.createWorkerToken();
  const job = (await server.api.upload(input, 'talk.mp4')).jobs[0] as JobView;
  const first = await startWorker(t, server, token);

  // Chunk 3 of 4 (index 2) under way on the only worker: the machine dies.
  const third = await waitFor(
    'chunk 3 of 4 transcoding',
    async () => {
      const p = (await parts(server, job.id)).find((x) => x.part?.kind === 'chunk' && x.part.index === 2);
      return p?.status === 'PROGRESSING' && p.phase === 'TRANSCODING' && p.progress.percent > 0 && p;
    },
    120_000,
  );
  process.kill(-(first.child.pid as number), 'SIGKILL');
  await first.exited;
  const before = await parts(server, job.id);
  assert.deepEqual(
    before.filter((p) => p.status === 'COMPLETE').map(label),
    ['chunk-0', 'chunk-1'],
    'chunks 1 and 2 were done when the worker died',
  );

  // While the job waits, its progress is its parts': some done, not all.
  const waiting = await server.api.getJob(job.id);
  assert.equal(waiting.status, 'PROGRESSING');
  assert.equal(waiting.phase, 'TRANSCODING');
  assert.ok(
    waiting.progress.percent > 30 && waiting.progress.percent < 100,
    String(waiting.progress.percent),
  );

  await startWorker(t, server, token);
  const done = await waitFor(
    'the job to finish',
    async () => {
      const j = await server.api.getJob(job.id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    180_000,
  );
  assert.equal(done.status, 'COMPLETE', `${done.error?.code}: ${done.error?.message}`);

  const all = await parts(server, job.id);
  assert.deepEqual(all.map(label), ['chunk-0', 'chunk-1', 'chunk-2', 'chunk-3', 'audio', 'stitch']);
  const claims: Record<string, number> = {};
  for (const p of all) {
    const evs = await events(server, p.id);
    claims[label(p)] = evs.filter((e) => e.type === 'job:claimed').length;
    const completes = evs.filter((e) => e.type === 'job:complete');
    assert.equal(completes.length, 1, `${label(p)} completed once`);
    if (p.part?.kind !== 'stitch') {
      assert.deepEqual(
        (completes[0]?.data.part as { reused?: boolean } | undefined)?.reused,
        false,
        `${label(p)} encoded`,
      );
    }
  }
  assert.deepEqual(claims, { 'chunk-0': 1, 'chunk-1': 1, 'chunk-2': 2, 'chunk-3': 1, audio: 1, stitch: 1 });
  const lost = (await events(server, third.id)).find((e) => e.type === 'job:retry');
  assert.equal((lost?.data.error as { code?: string } | undefined)?.code, 'WORKER_LOST');
  // The stitch joined the receipts of the first attempts of chunks 1, 2 and 4, and chunk 3's second.
  const stitch = all.find((p) => p.part?.kind === 'stitch') as JobView;
  const stitched = (await events(server, stitch.id)).find((e) => e.type === 'job:complete');
  const madeBy = (stitched?.data.part as { madeBy?: Record<string, string> } | undefined)?.madeBy;
  const idOf = (name: string) => (all.find((p) => label(p) === name) as JobView).id;
  assert.deepEqual(madeBy, {
    'chunk-0000': `${idOf('chunk-0')}-1`,
    'chunk-0001': `${idOf('chunk-1')}-1`,
    'chunk-0002': `${idOf('chunk-2')}-2`,
    'chunk-0003': `${idOf('chunk-3')}-1`,
    audio: `${idOf('audio')}-1`,
  });

  // A clean run of the same input (no kill) publishes the same set, file for file, byte for byte.
  const clean = (await server.api.upload(input, 'clean.mp4')).jobs[0] as JobView;
  const cleanDone = await waitFor(
    'the clean job',
    async () => {
      const j = await server.api.getJob(clean.id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    180_000,
  );
  assert.equal(cleanDone.status, 'COMPLETE');
  const resumed = await structure(server, done, 'talk');
  assert.deepEqual(resumed, await structure(server, cleanDone, 'clean'));
  assert.equal(Object.keys(resumed).filter((k) => k.endsWith('.m4s')).length, 3 + 3 * 20);
  assert.match(resumed['manifest.mpd'] ?? '', /<S /);

  // It plays: every frame of the input through the HLS master, the MPD and the MP4 in ffmpeg, and start
  // to end in hls.js and dash.js in Chromium, every frame decoded (at 4x, beyond what a 60 Hz screen shows).
  const root = path.join(server.destination, ...done.destination.prefix.split('/'));
  assert.equal(await countFrames(path.join(root, 'master.m3u8')), 1000);
  assert.equal(await countFrames(path.join(root, 'manifest.mpd')), 1000);
  assert.equal(await countFrames(path.join(root, 'talk.mp4')), 1000);
  const harness = await startHarness(server.destination);
  t.after(() => harness.close());
  if (!harness.browser) return t.skip(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  for (const [page, manifest] of [
    ['hls', 'master.m3u8'],
    ['dash', 'manifest.mpd'],
  ] as const) {
    const r = await play(harness, page, `/media/${done.destination.prefix}/${manifest}`, t, {
      rate: 4,
      timeoutMs: 60_000,
    });
    assertPlayedWhole(`${page} (resumed)`, r, t, { minDuration: 39.5, minFrames: 990 });
  }
});
