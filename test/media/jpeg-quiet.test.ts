// The poster and sprite sheets are full-range JPEGs made without swscale's "deprecated pixel format"
// warning, which filled every job's stderr tail (issue 8, item 6).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { probe } from '../../src/media/probe.ts';
import type { FfmpegRun } from '../../src/media/run-ffmpeg.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { encode } from '../../src/worker/encode.ts';
import { clip } from '../helpers.ts';

const run = promisify(execFile);

test('poster and sprites: full-range JPEGs, and no "deprecated pixel format" in the stderr tail', async (t) => {
  const input = await clip({ width: 320, height: 180, seconds: 2 });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-jpeg-'));
  t.after(() => fs.rm(work, { recursive: true, force: true }));
  const template = parseTemplate({
    name: 'jpeg',
    ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
    video: { preset: 'ultrafast' },
    sprites: { enabled: true, intervalSeconds: 1 },
  });
  let ffmpeg: FfmpegRun | null = null;
  const r = await encode(template, await probe(input), input, work, { onStart: (x) => (ffmpeg = x) });
  const tail = (ffmpeg as FfmpegRun | null)?.stderrTail() ?? '';
  assert.doesNotMatch(tail, /deprecated pixel format/);
  const sheets = await fs.readdir(r.local.spriteDir);
  for (const jpeg of [r.local.thumbnail, path.join(r.local.spriteDir, sheets[0] ?? '')]) {
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_name,pix_fmt,color_range',
      '-of',
      'csv=p=0',
      jpeg,
    ]);
    assert.equal(stdout.trim(), 'mjpeg,yuvj420p,pc', `${path.basename(jpeg)} is a full-range JPEG`);
  }
});
