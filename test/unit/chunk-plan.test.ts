// Chunk boundaries for chunked encoding (issue 13 groundwork): whole segments, a short tail joined to the
// chunk before, pre-roll and seek positions on the source's own timeline, and segment start frames equal
// to the keyframes the single pass's -force_key_frames expression really makes (real ffmpeg, 29.97 fps).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { checkChunkSeconds, planChunks, segmentStartFrame } from '../../src/templates/chunk-plan.ts';
import { tempDir } from '../helpers.ts';

const run = promisify(execFile);
const base = { sourceStartSeconds: 0, frameRate: 25, segmentSeconds: 4, minInputSeconds: 30 };

test('a 60 s input in 16 s chunks: 4 chunks of whole segments, the 12 s tail its own chunk', () => {
  const chunks = planChunks({ ...base, durationSeconds: 60, chunkSeconds: 16 });
  assert.ok(chunks);
  assert.deepEqual(
    chunks.map((c) => [c.firstSegment, c.segments, c.startSeconds, c.endSeconds, c.firstFrame, c.endFrame]),
    [
      [0, 4, 0, 16, 0, 400],
      [4, 4, 16, 32, 400, 800],
      [8, 4, 32, 48, 800, 1200],
      [12, null, 48, 60, 1200, null],
    ],
  );
  // Pre-roll: one segment before each chunk but the first; the seek a second before that.
  assert.deepEqual(
    chunks.map((c) => [c.encodeFromSeconds, c.seekSeconds]),
    [
      [0, 0],
      [12, 11],
      [28, 27],
      [44, 43],
    ],
  );
});

test('a tail shorter than half a chunk joins the chunk before (no sliver, slowest chunk < 1.5 chunks)', () => {
  const chunks = planChunks({ ...base, durationSeconds: 62, chunkSeconds: 20 });
  assert.ok(chunks);
  assert.equal(chunks.length, 3);
  assert.deepEqual(chunks.at(-1), {
    index: 2,
    firstFrame: 1000,
    endFrame: null,
    firstSegment: 10,
    segments: null,
    startSeconds: 40,
    endSeconds: 62,
    encodeFromSeconds: 36,
    seekSeconds: 35,
  });
});

test('short inputs keep the single pass: under the threshold, or one chunk would hold it all', () => {
  assert.equal(planChunks({ ...base, durationSeconds: 29, chunkSeconds: 16 }), null);
  assert.equal(planChunks({ ...base, durationSeconds: 40, chunkSeconds: 32 }), null);
  assert.equal(planChunks({ ...base, durationSeconds: 0, chunkSeconds: 16 }), null);
});

test('a source whose timeline does not start at 0: seeks are on its own timeline, never before its start', () => {
  const chunks = planChunks({ ...base, sourceStartSeconds: 10.5, durationSeconds: 60, chunkSeconds: 16 });
  assert.ok(chunks);
  assert.deepEqual(
    chunks.map((c) => c.seekSeconds),
    [10.5, 21.5, 37.5, 53.5],
  );
  assert.equal(chunks[1]?.startSeconds, 16, 'output times stay from 0');
});

test('chunk length: a whole number of segments and at least 10 s, else INVALID_TEMPLATE naming the field', () => {
  for (const [chunk, segment] of [
    [10, 4],
    [8, 4],
    [0, 4],
    [Number.NaN, 4],
  ] as const) {
    assert.throws(
      () => checkChunkSeconds(chunk, segment),
      (e: Error & { code?: string }) =>
        e.code === 'INVALID_TEMPLATE' && /chunking\.chunkSeconds/.test(e.message),
      `${chunk} / ${segment}`,
    );
  }
  checkChunkSeconds(12, 4);
  checkChunkSeconds(10, 2);
  checkChunkSeconds(15, 1.5);
});

test('segment start frames are the keyframes the single pass forces (real ffmpeg, 29.97 fps, 4 s segments)', async (t) => {
  const dir = await tempDir(t);
  const out = path.join(dir, 'forced.mp4');
  const rate = 30000 / 1001;
  await run('ffmpeg', [
    ...[
      '-hide_banner',
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=32x32:rate=30000/1001:duration=41',
    ],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10000', '-sc_threshold', '0'],
    ...['-force_key_frames', 'expr:gte(t,n_forced*4)', out],
  ]);
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0', out],
  ]);
  const keyframes = stdout
    .trim()
    .split('\n')
    .flatMap((flags, frame) => (flags.includes('K') ? [frame] : []));
  const expected = Array.from({ length: keyframes.length }, (_, k) => segmentStartFrame(k, 4, rate));
  assert.ok(keyframes.length >= 10, `keyframes: ${keyframes}`);
  assert.deepEqual(keyframes, expected);
  // 29.97 fps makes no whole number of frames per segment: the boundaries fall 119 and 120 frames apart.
  assert.ok(new Set(expected.slice(1).map((f, i) => f - (expected[i] ?? 0))).size > 1);
});
