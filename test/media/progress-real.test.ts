// Progress of a real encode under the default template, as the worker reports it: percent, fps, speed and
// ETA from ffmpeg's -progress stream, with the system ffmpeg and with the npm-shipped one. The side
// outputs (poster, sprite sheets) must not hold the report back or push it past the video.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { JobProgress } from '../../src/jobs/job.ts';
import { probe } from '../../src/media/probe.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { encode } from '../../src/worker/encode.ts';
import { clip, tempDir } from '../helpers.ts';

const NPM_FFMPEG = path.resolve('node_modules/@ffmpeg-installer/linux-x64/ffmpeg');
const NPM_FFPROBE = path.resolve('node_modules/@ffprobe-installer/linux-x64/ffprobe');

/** 20 s with grain: the default template's veryfast encode takes a few seconds even at 640x360. */
const INPUT = { width: 640, height: 360, seconds: 20, fps: 60, noise: true, bitrateKbps: 2000 };

async function progressOf(t: { after: (fn: () => Promise<void>) => void }): Promise<JobProgress[]> {
  const input = await clip(INPUT);
  const dir = await tempDir(t, 'sluice-progress-');
  const seen: JobProgress[] = [];
  const r = await encode(getBuiltinTemplate('abr-default'), await probe(input), input, dir, {
    onProgress: (p) => seen.push(p),
  });
  assert.ok(r.plan.thumbnail && r.plan.sprites, 'the default template makes a poster and sprites');
  return seen;
}

function assertLive(seen: JobProgress[], binary: string): void {
  const shown = seen.map((p) => `${p.percent}%/${p.fps}fps/${p.speed}x/eta ${p.etaSeconds}`).join(', ');
  const during = seen.filter((p) => p.percent > 0 && p.percent < 100);
  const distinct = new Set(during.map((p) => p.percent));
  assert.ok(distinct.size >= 5, `${binary}: ${distinct.size} distinct values between 0 and 100: ${shown}`);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(
      (seen[i]?.percent ?? 0) >= (seen[i - 1]?.percent ?? 0),
      `${binary}: percent went back: ${shown}`,
    );
  }
  for (const p of during) {
    assert.ok(p.etaSeconds !== null && Number.isFinite(p.etaSeconds), `${binary}: ETA finite: ${shown}`);
    assert.ok(p.fps !== null && p.fps > 0, `${binary}: fps known: ${shown}`);
    assert.ok(p.speed !== null && p.speed > 0, `${binary}: speed known: ${shown}`);
  }
  const first = during[0];
  const last = during.at(-1);
  assert.ok(
    first && last && (last.etaSeconds ?? 0) < (first.etaSeconds ?? 0),
    `${binary}: ETA falls: ${shown}`,
  );
  // speed is media seconds over wall seconds: the last one, times the wall time, is the clip, not more.
  const end = seen.at(-1);
  assert.equal(end?.percent, 100, `${binary}: the last report is the end: ${shown}`);
  assert.ok(end?.speed && end.fps, shown);
  // fps / speed is frames per media second: the clip's 60, whatever ffmpeg's out_time says.
  assert.ok(Math.abs(end.fps / end.speed - INPUT.fps) < 1, `${binary}: fps/speed = frame rate: ${shown}`);
}

test('the system ffmpeg reports live progress under the default template', async (t) => {
  assertLive(await progressOf(t), 'system ffmpeg');
});

test('the npm-shipped ffmpeg reports live progress under the default template', async (t) => {
  if (!existsSync(NPM_FFMPEG) || !existsSync(NPM_FFPROBE)) {
    t.skip(`no npm-shipped ffmpeg at ${NPM_FFMPEG} (optional dependency @ffmpeg-installer/ffmpeg)`);
    return;
  }
  const saved = { ffmpeg: process.env.SLUICE_FFMPEG, ffprobe: process.env.SLUICE_FFPROBE };
  process.env.SLUICE_FFMPEG = NPM_FFMPEG;
  process.env.SLUICE_FFPROBE = NPM_FFPROBE;
  t.after(async () => {
    for (const [k, v] of [
      ['SLUICE_FFMPEG', saved.ffmpeg],
      ['SLUICE_FFPROBE', saved.ffprobe],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  assertLive(await progressOf(t), 'npm ffmpeg');
});
