// Chunked encoding on awkward inputs (issue 13, item 4), each against the single pass of the same input:
// variable frame rate, audio longer and shorter than the video, an MPEG-TS that starts at 10 s, phone-style
// rotation metadata, a single keyframe in 24 s, a video that starts 2 s after its audio. Each makes the
// single pass's frames and segments per rendition, its sprite sheets (tiled from the chunks' small
// frames, every 3 s: not on the 10 s chunk boundaries) and decodes to the end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { probe } from '../../src/media/probe.ts';
import { chunksOf } from '../../src/worker/chunked-encode.ts';
import { encode } from '../../src/worker/encode.ts';
import { tempDir } from '../helpers.ts';
import { chunked, chunkTemplate, decodeErrors, frames } from './chunked-helpers.ts';

const run = promisify(execFile);

const template = chunkTemplate({
  ladder: [{ name: '90p', height: 90, videoBitrateKbps: 150 }],
  sprites: { enabled: true, intervalSeconds: 3, width: 32, columns: 3, rows: 2 },
});

async function make(dir: string, name: string, args: string[]): Promise<string> {
  const file = path.join(dir, name);
  await run('ffmpeg', ['-v', 'error', '-y', ...args, file]);
  return file;
}

const video = (seconds: number, rate = 25) => [
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=160x90:rate=${rate}:duration=${seconds},noise=alls=10:allf=t`,
];
const audio = (seconds: number) => [
  '-f',
  'lavfi',
  '-i',
  `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
];
const x264 = (gop = 25) => [
  '-c:v',
  'libx264',
  '-preset',
  'ultrafast',
  '-pix_fmt',
  'yuv420p',
  '-g',
  String(gop),
];

/** Single pass and chunked on one input: same frames and segments per stream, and both decode. */
async function sameAsSinglePass(
  t: { after: (fn: () => Promise<void>) => void },
  input: string,
  /** The sheets' bytes compared too (the late-video case differs in the tiles at the gap's end). */
  o: { sheetBytes?: boolean } = {},
) {
  const dir = await tempDir(t);
  const media = await probe(input);
  const single = await encode(template, media, input, path.join(dir, 'single'));
  const { result, chunks } = await chunked(template, media, input, dir);
  assert.ok(chunks.length >= 2);
  const want = await frames('media_0.m3u8', 'v:0', single.local.streamDir);
  assert.ok(want > 0);
  assert.equal(await frames('media_0.m3u8', 'v:0', result.local.streamDir), want, 'HLS frames');
  assert.equal(await frames(result.local.mp4, 'v:0'), await frames(single.local.mp4, 'v:0'), 'MP4 frames');
  assert.deepEqual(
    result.measured.map((m) => [m.playlist, m.segments]),
    single.measured.map((m) => [m.playlist, m.segments]),
  );
  for (const f of ['master.m3u8', 'manifest.mpd']) {
    assert.equal(await decodeErrors(f, result.local.streamDir), '', f);
  }
  assert.equal(await decodeErrors(result.local.mp4), '');
  const sheets = (await fs.readdir(single.local.spriteDir)).sort();
  assert.ok(sheets.length >= 2, sheets.join());
  assert.deepEqual((await fs.readdir(result.local.spriteDir)).sort(), sheets);
  for (const sheet of o.sheetBytes === false ? [] : sheets) {
    const [a, b] = await Promise.all(
      [single, result].map((x) => fs.readFile(path.join(x.local.spriteDir, sheet))),
    );
    assert.ok(a?.equals(b as Buffer), `sprite sheet ${sheet} is the single pass's`);
  }
  return { single, result, media, want };
}

test('variable frame rate: each chunk is frame-exact on the output grid', async (t) => {
  const dir = await tempDir(t);
  // 30 fps with every fifth frame dropped: 24 fps on average, timestamps 1/30 s apart and gaps of 2/30.
  const input = await make(dir, 'vfr.mp4', [
    ...video(24, 30),
    ...audio(24),
    ...['-vf', 'select=not(eq(mod(n\\,5)\\,2))', '-vsync', 'vfr'],
    ...x264(30),
    ...['-c:a', 'aac'],
  ]);
  const { media, want } = await sameAsSinglePass(t, input);
  assert.equal(media.video?.variableFrameRate, true);
  assert.equal(want, 24 * 24);
});

test('audio longer than the video: the last frame is held in the last chunk as in the single pass', async (t) => {
  const dir = await tempDir(t);
  const input = await make(dir, 'long-audio.mp4', [...video(21), ...audio(25), ...x264(), '-c:a', 'aac']);
  const { single, want } = await sameAsSinglePass(t, input);
  assert.ok((single.plan.holdLastFrameSeconds ?? 0) > 3);
  assert.ok(want > 21 * 25);
});

test('audio shorter than the video', async (t) => {
  const dir = await tempDir(t);
  const input = await make(dir, 'short-audio.mp4', [...video(24), ...audio(17), ...x264(), '-c:a', 'aac']);
  const { want } = await sameAsSinglePass(t, input);
  assert.equal(want, 24 * 25);
});

test('an MPEG-TS whose timeline starts at 10 s', async (t) => {
  const dir = await tempDir(t);
  const input = await make(dir, 'offset.ts', [
    ...video(24),
    ...audio(24),
    ...x264(),
    ...['-c:a', 'aac', '-output_ts_offset', '10', '-f', 'mpegts'],
  ]);
  const { media, want } = await sameAsSinglePass(t, input);
  assert.ok((media.startSeconds ?? 0) >= 10);
  // The video starts 21 ms (the AAC priming) after the audio: the single pass's first frame fills slot 0.
  assert.equal(want, 24 * 25 + 1);
});

test('rotation metadata (a phone held upright): chunks are rotated as the single pass is', async (t) => {
  const dir = await tempDir(t);
  const plain = await make(dir, 'plain.mp4', [...video(24), ...audio(24), ...x264(), '-c:a', 'aac']);
  const input = await make(dir, 'rotated.mp4', ['-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90']);
  const { media, result } = await sameAsSinglePass(t, input);
  assert.equal(media.video?.rotation, 90);
  assert.deepEqual(
    result.plan.renditions.map((r) => [r.width, r.height]),
    [[90, 160]],
  );
});

test('no audio, no poster: the audio part is its receipt alone; a one-frame last segment is folded as in the single pass', async (t) => {
  const dir = await tempDir(t);
  // 24.04 s at 25 fps: the 13th 2 s segment would hold one frame.
  const input = await make(dir, 'silent.mp4', [...video(24.04), ...x264()]);
  const media = await probe(input);
  const silent = chunkTemplate({
    ladder: [{ name: '90p', height: 90, videoBitrateKbps: 150 }],
    sprites: { enabled: false },
    thumbnail: { enabled: false },
  });
  const single = await encode(silent, media, input, path.join(dir, 'single'));
  const { result, parts } = await chunked(silent, media, input, dir);
  assert.deepEqual(await fs.readdir(path.join(parts, 'audio')), ['receipt.json']);
  assert.equal(await frames('media_0.m3u8', 'v:0', result.local.streamDir), 601);
  assert.deepEqual(
    result.measured.map((m) => [m.playlist, m.segments, m.durationSeconds]),
    single.measured.map((m) => [m.playlist, m.segments, m.durationSeconds]),
  );
  assert.equal(result.measured[0]?.segments, 12);
  for (const f of ['master.m3u8', 'manifest.mpd']) {
    assert.equal(await decodeErrors(f, result.local.streamDir), '', f);
  }
  assert.equal(await frames('manifest.mpd', 'v:0', result.local.streamDir), 601);
});

test('sparse source keyframes: one keyframe in 24 s', async (t) => {
  const dir = await tempDir(t);
  const input = await make(dir, 'sparse.mp4', [...video(24), ...audio(24), ...x264(1000), '-c:a', 'aac']);
  const { want } = await sameAsSinglePass(t, input);
  assert.equal(want, 24 * 25);
});

test('a video that starts 2 s after its audio: the first chunk fills the gap as the single pass does', async (t) => {
  const dir = await tempDir(t);
  const input = await make(dir, 'late-video.ts', [
    ...['-itsoffset', '2', ...video(22)],
    ...audio(24),
    ...x264(),
    ...['-c:a', 'aac', '-f', 'mpegts'],
  ]);
  // The single pass's sprite branch sees the video from its first frame, 2 s in, and its output's constant
  // rate fills the gap; the first chunk fills it before its sprite grid, so the tile at the gap's end
  // shows a frame up to one interval later than the single pass's. Same sheets, same cues; not the bytes.
  const { media, want } = await sameAsSinglePass(t, input, { sheetBytes: false });
  assert.ok((media.video?.startSeconds ?? 0) - (media.startSeconds ?? 0) > 1.9);
  assert.ok(want >= 24 * 25, `${want} frames`);
  // Short inputs and templates without chunking keep the single pass.
  assert.equal(chunksOf(chunkTemplate({ chunking: { enabled: false } }), media), null);
  assert.equal(
    chunksOf(chunkTemplate({ chunking: { enabled: true, chunkSeconds: 10, minInputSeconds: 60 } }), media),
    null,
  );
});
