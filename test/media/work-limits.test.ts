// Tiny files that cost hours, and failures that can never succeed, on real ffmpeg: the frame-rate cap
// holds on a 1000 fps clip, work limits refuse before any encode, the poster of a stream that starts
// 10 h in is taken inside the stream, and a missing output is a non-retryable INPUT_ code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { SluiceError } from '../../src/errors.ts';
import { probe } from '../../src/media/probe.ts';
import { parseTemplate, type Template } from '../../src/templates/template.ts';
import { encode } from '../../src/worker/encode.ts';
import { inspectInput } from '../../src/worker/inspect-input.ts';
import { publishList } from '../../src/worker/outputs.ts';

const run = promisify(execFile);
let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-work-limits-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const TONE = 'sine=frequency=440:sample_rate=48000';

/** A clip from a lavfi video source (and a tone), with extra output options. */
async function gen(
  name: string,
  video: string,
  o: { out?: string[]; seconds?: number; audio?: boolean } = {},
) {
  const file = path.join(dir, name);
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', video];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', TONE);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast');
  if (o.audio !== false) args.push('-c:a', 'aac');
  args.push(...(o.out ?? []), '-t', String(o.seconds ?? 1), file);
  await run('ffmpeg', args);
  return file;
}

const template = (extra: object = {}): Template =>
  parseTemplate({
    name: 'work',
    ladder: [{ name: '240p', height: 240, videoBitrateKbps: 300 }],
    video: { preset: 'ultrafast' },
    packaging: { segmentSeconds: 1, dash: false },
    ...extra,
  });

async function encodeFile(input: string, t: Template) {
  const work = await fs.mkdtemp(path.join(dir, 'work-'));
  const media = await inspectInput(input, t.limits);
  return { work, ...(await encode(t, media, input, work)) };
}

async function videoRate(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_frames',
    '-show_entries',
    'stream=nb_read_frames,duration:format=duration',
    '-of',
    'json',
    file,
  ]);
  const probed = JSON.parse(stdout) as {
    streams: { nb_read_frames: string; duration?: string }[];
    format: { duration: string };
  };
  const s = probed.streams[0];
  assert.ok(s);
  // An HLS playlist has no stream duration; its format duration is the rendition's.
  return Number(s.nb_read_frames) / Number(s.duration ?? probed.format.duration);
}

async function refusal(file: string, t: Template): Promise<SluiceError> {
  try {
    await inspectInput(file, t.limits);
  } catch (err) {
    assert.ok(err instanceof SluiceError, `a SluiceError, not ${err}`);
    assert.equal(err.retryable, false, `${err.code} ends the job at attempt 1`);
    return err;
  }
  assert.fail(`${path.basename(file)} was accepted for encoding`);
}

test('16x16 at 1000 fps: the output keeps the cap and the HLS master claims the rate it has', async () => {
  const t = template({ video: { preset: 'ultrafast', maxFrameRate: 30 } });
  const input = await gen('fast.mp4', 'testsrc2=size=16x16:rate=1000', { seconds: 1 });
  const r = await encodeFile(input, t);
  const mp4Rate = await videoRate(r.local.mp4);
  assert.ok(mp4Rate <= 30.5, `the MP4 plays at ${mp4Rate.toFixed(1)} fps; the cap is 30`);
  const master = await fs.readFile(path.join(r.local.streamDir, 'master.m3u8'), 'utf8');
  const claimed = Number(/FRAME-RATE=([\d.]+)/.exec(master)?.[1]);
  assert.ok(Math.abs(claimed - mp4Rate) < 1, `master claims ${claimed} fps, the output has ${mp4Rate}`);
  const hlsRate = await videoRate(path.join(r.local.streamDir, 'media_0.m3u8'));
  assert.ok(
    Math.abs(claimed - hlsRate) < 1,
    `master claims ${claimed} fps, the HLS rendition has ${hlsRate}`,
  );
});

test('a SAR of 100:1 (320x240 shown at 32000x240) is refused before any encode', async () => {
  const input = await gen('sar.mp4', 'testsrc2=size=320x240:rate=25,setsar=100/1', { seconds: 1 });
  assert.equal((await probe(input)).video?.displayWidth, 32_000, 'ffprobe sees the SAR');
  const err = await refusal(input, template());
  assert.equal(err.code, 'INPUT_BAD_ASPECT_RATIO', err.message);
  // With the aspect limit out of the way, the display size itself is refused.
  const wide = await refusal(input, template({ limits: { maxAspectRatio: 1000 } }));
  assert.equal(wide.code, 'INPUT_DISPLAY_TOO_LARGE', wide.message);
});

test('frames and pixels x frames are limits of their own, checked before any encode', async () => {
  const input = await gen('frames.mp4', 'testsrc2=size=64x64:rate=1000', { seconds: 1, audio: false });
  const frames = await refusal(input, template({ limits: { maxFrames: 500 } }));
  assert.equal(frames.code, 'INPUT_TOO_MANY_FRAMES', frames.message);
  const work = await refusal(input, template({ limits: { maxPixelFrames: 64 * 64 * 500 } }));
  assert.equal(work.code, 'INPUT_TOO_MUCH_WORK', work.message);
  await inspectInput(input, template({ limits: { maxFrames: 1000, maxPixelFrames: 64 * 64 * 1000 } }).limits);
});

test('streams that start 10 h in: the poster is taken inside the video and every output is made', async () => {
  const input = await gen('late.mp4', 'testsrc2=size=320x240:rate=30', {
    seconds: 2,
    out: ['-output_ts_offset', '36000'],
  });
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=start_time',
    '-of',
    'csv=p=0',
    input,
  ]);
  assert.ok(Math.min(...stdout.trim().split('\n').map(Number)) > 35_999, 'the streams start 10 h in');
  const t = template({ sprites: { enabled: true, intervalSeconds: 1, columns: 2, rows: 1 } });
  const r = await encodeFile(input, t);
  assert.ok(
    r.plan.durationSeconds !== null && r.plan.durationSeconds < 3,
    `${r.plan.durationSeconds} s planned`,
  );
  const items = await publishList(r.plan, { ...r.local, spriteVtt: r.spriteVtt }, 'late', 'job_1-1');
  assert.ok(items.some((i) => i.type === 'thumbnail'));
  assert.ok((await fs.stat(r.local.thumbnail)).size > 0, 'a poster was made');
});

test('ffmpeg finishing without a planned output is INPUT_NO_OUTPUT, not retried', async () => {
  const input = await gen('plain.mp4', 'testsrc2=size=320x240:rate=30', { seconds: 1 });
  const r = await encodeFile(input, template());
  // Stands in for an output ffmpeg did not write though it exited 0 (no frame where one was asked).
  await fs.rm(r.local.thumbnail);
  await assert.rejects(
    publishList(r.plan, { ...r.local, spriteVtt: r.spriteVtt }, 'plain', 'job_1-1'),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'INPUT_NO_OUTPUT', err.message);
      assert.equal(err.retryable, false);
      assert.match(err.message, /plain\.jpg/);
      return true;
    },
  );
});
