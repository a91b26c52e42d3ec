// Issue 13's first must-show, at the worker level: a 60 s 1080p input encoded in 4 chunks (16 s of 4 s
// segments, the last 12 s) plus the audio part and stitched, against the single pass of the same input:
// frames equal per rendition, bitrate within 2%, PSNR within 0.2 dB; then the published stitched set
// plays start to end in hls.js and in dash.js in Chromium with each rendition pinned (1080p, 360p).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { probe } from '../../src/media/probe.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { encode } from '../../src/worker/encode.ts';
import { publishList } from '../../src/worker/outputs.ts';
import { publish } from '../../src/worker/publish.ts';
import { clip } from '../helpers.ts';
import { chunked, chunkTemplate, frames, psnr } from '../worker/chunked-helpers.ts';
import { assertPlayedWhole, CHROMIUM, type Harness, play, startHarness } from './play-harness.ts';

let root = '';
let harness: Harness;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-chunked-players-'));
  harness = await startHarness(root);
});

after(async () => {
  await harness?.close();
  await fs.rm(root, { recursive: true, force: true });
});

const template = chunkTemplate({
  ladder: [
    { name: '1080p', height: 1080, videoBitrateKbps: 4500 },
    { name: '360p', height: 360, videoBitrateKbps: 700 },
  ],
  packaging: { hls: true, dash: true, segmentSeconds: 4 },
  sprites: { enabled: false },
  chunking: { enabled: true, chunkSeconds: 16, minInputSeconds: 30 },
});

test('60 s of 1080p in 4 chunks: the single pass’s frames, bitrate and PSNR; plays pinned in hls.js and dash.js', async (t) => {
  const input = await clip({ width: 1920, height: 1080, seconds: 60, fps: 30 });
  const media = await probe(input);
  const single = await encode(template, media, input, path.join(root, 'single'));
  const { result, chunks } = await chunked(template, media, input, root);
  assert.equal(chunks.length, 4);
  for (const [i] of single.plan.renditions.entries()) {
    const want = await frames(`media_${i}.m3u8`, 'v:0', single.local.streamDir);
    assert.equal(want, 1800);
    assert.equal(await frames(`media_${i}.m3u8`, 'v:0', result.local.streamDir), want, `rendition ${i}`);
  }
  result.measured.forEach((m, i) => {
    const want = single.measured[i]?.averageBitrate ?? 0;
    assert.equal(m.segments, single.measured[i]?.segments);
    assert.ok(
      Math.abs(m.averageBitrate - want) / want < 0.02,
      `${m.playlist}: ${m.averageBitrate} vs ${want}`,
    );
  });
  const quality = {
    single: await psnr(single.local.mp4, input),
    chunked: await psnr(result.local.mp4, input),
  };
  t.diagnostic(
    `PSNR vs source ${JSON.stringify(quality)}; bitrates single ${single.measured.map((m) => m.averageBitrate)} chunked ${result.measured.map((m) => m.averageBitrate)}`,
  );
  assert.ok(Math.abs(quality.chunked - quality.single) < 0.2, JSON.stringify(quality));

  if (!harness.browser) return t.skip(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  // Published as a job publishes it: entry points at the set's root, the rest under v/<version>/.
  const objects = new LocalObjectStore(path.join(root, 'data'));
  const set = 'clip.mp4/chunked';
  const items = await publishList(
    result.plan,
    { ...result.local, spriteVtt: result.spriteVtt },
    'clip',
    'job_1-1',
  );
  await publish(objects, 'destination', set, items, { jobId: 'job_1', attempt: 1 }, () => true);
  const served = `data/buckets/destination/${set}`;
  const manifests = { hls: 'master.m3u8', dash: 'manifest.mpd' } as const;
  // Two at a time, in real time: one player at 1080p beside the other at 360p (two 1080p decodes, or one
  // at twice the rate, have made hls.js report buffer stalls on this 2-core machine).
  for (const round of [
    [
      ['hls', 1080],
      ['dash', 360],
    ],
    [
      ['dash', 1080],
      ['hls', 360],
    ],
  ] as const) {
    const results = await Promise.all(
      round.map(([page, height]) =>
        play(harness, page, `/media/${served}/${manifests[page]}`, t, { height, timeoutMs: 90_000 }),
      ),
    );
    round.forEach(([page, height], i) => {
      const r = results[i] as (typeof results)[number];
      assertPlayedWhole(`${page} ${height}p`, r, t, { minDuration: 59.5, minFrames: 1770 });
      assert.equal(r.height, height, `${page}: the pinned ${height}p rendition was shown (${r.heights})`);
      assert.deepEqual([...new Set(r.heights)], [height], `${page}: only ${height}p was shown`);
    });
  }
});
