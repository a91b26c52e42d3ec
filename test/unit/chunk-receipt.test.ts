// The stitch's continuity check over chunk receipts (issue 13 groundwork): a complete, continuous set
// passes with its frame and segment totals; a missing or unparsable receipt names the chunk to encode
// again; a different init, a gap, an overlap, a tfdt jump or a wrong frame count is reported, per chunk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChunkReceipt, checkContinuity, checkSpriteFrames } from '../../src/media/chunk-receipt.ts';
import { planChunks } from '../../src/templates/chunk-plan.ts';

const INIT = 'a'.repeat(64);
// 25 fps, timescale 12800 (ffmpeg's default for 25 fps): 512 per frame, 4 s segments of 100 frames.
const chunks = planChunks({
  durationSeconds: 40,
  sourceStartSeconds: 0,
  frameRate: 25,
  segmentSeconds: 4,
  chunkSeconds: 12,
  minInputSeconds: 30,
});

function receipt(chunk: number, first: number, count: number, framesEach = 100): ChunkReceipt {
  const segments = Array.from({ length: count }, (_, i) => ({
    index: first + i,
    file: `r0/seg-${first + i}.m4s`,
    tfdt: (first * 100 + i * framesEach) * 512,
    duration: framesEach * 512,
    bytes: 1000 + i,
    sha256: 'b'.repeat(64),
  }));
  return {
    version: 1,
    kind: 'chunk',
    chunk,
    madeBy: 'job_1-1',
    renditions: [
      {
        name: '360p',
        timescale: 12800,
        init: 'r0/init.m4s',
        initSha256: INIT,
        frames: count * framesEach,
        segments,
      },
    ],
    sprites: [],
    files: [{ path: 'r0/init.m4s', bytes: 10, sha256: INIT }],
  };
}

function all(): Map<number, unknown> {
  assert.ok(chunks);
  return new Map(
    chunks.map((c) => [c.index, receipt(c.index, c.firstSegment, c.segments ?? 10 - c.firstSegment)]),
  );
}

test('a complete, continuous set of receipts passes with the totals', () => {
  assert.ok(chunks);
  assert.deepEqual(
    chunks.map((c) => [c.firstSegment, c.segments]),
    [
      [0, 3],
      [3, 3],
      [6, null],
    ],
  );
  assert.deepEqual(checkContinuity(chunks, all()), {
    ok: true,
    frames: { '360p': 1000 },
    segments: { '360p': 10 },
  });
});

test('a missing or unparsable receipt names the chunk to encode again, nothing else', () => {
  assert.ok(chunks);
  const r = all();
  r.delete(1);
  r.set(2, { version: 1, chunk: 2, renditions: 'torn' });
  assert.deepEqual(checkContinuity(chunks, r), { ok: false, problems: [], missing: [1, 2] });
  const wrongChunk = all();
  wrongChunk.set(0, receipt(1, 0, 3));
  assert.deepEqual(checkContinuity(chunks, wrongChunk), { ok: false, problems: [], missing: [0] });
});

test('a different init, a gap, a tfdt jump and a wrong frame count are each reported against their chunk', () => {
  assert.ok(chunks);
  const r = all();
  const c1 = receipt(1, 3, 3);
  const rendition = c1.renditions[0];
  assert.ok(rendition);
  rendition.initSha256 = 'c'.repeat(64);
  r.set(1, c1);
  const c2 = receipt(2, 7, 3);
  const first = c2.renditions[0]?.segments[0];
  assert.ok(first);
  first.tfdt += 512;
  r.set(2, c2);
  const result = checkContinuity(chunks, r);
  assert.equal(result.ok, false);
  assert.ok(!result.ok);
  assert.deepEqual(
    result.problems.map((p) => [p.chunk, p.problem]),
    [
      [1, 'its init segment differs from the first chunk’s'],
      [2, 'starts at segment 7, planned 6'],
      [2, 'segment 7 follows 5'],
      [2, `segment 7 starts at tfdt ${7 * 100 * 512 + 512}, not ${6 * 100 * 512}`],
      // The shifted segment moves the next one's expectation too: the next join is checked from it.
      [2, `segment 8 starts at tfdt ${8 * 100 * 512}, not ${8 * 100 * 512 + 512}`],
    ],
  );
  const short = all();
  short.set(0, receipt(0, 0, 3, 99));
  const frames = checkContinuity(chunks, short);
  assert.ok(!frames.ok);
  assert.deepEqual(
    frames.problems.map((p) => [p.chunk, p.problem]),
    [
      [0, 'has 297 frames, planned 300'],
      [1, 'segment 3 starts at tfdt 153600, not 152064'],
    ],
  );
});

test("sprite frames: each chunk's planned slots exactly, else the chunk is named with what is off", () => {
  const withSprites = (chunk: number, indexes: number[]): ChunkReceipt => ({
    ...receipt(chunk, 0, 1),
    sprites: indexes.map((index) => ({
      index,
      file: `frames/frame-${String(index).padStart(5, '0')}.jpg`,
      bytes: 100,
      sha256: 'd'.repeat(64),
    })),
  });
  const planned = [
    { chunk: 0, first: 0, count: 4 },
    { chunk: 1, first: 4, count: 4 },
    { chunk: 2, first: 8, count: 0 },
  ];
  const good = new Map([
    [0, withSprites(0, [1, 2, 3, 4])],
    [1, withSprites(1, [5, 6, 7, 8])],
    [2, withSprites(2, [])],
  ]);
  assert.deepEqual(checkSpriteFrames(planned, good), []);
  const bad = new Map([
    [0, withSprites(0, [1, 2, 4])],
    [1, withSprites(1, [5, 6, 7, 8, 9])],
    [2, withSprites(2, [])],
  ]);
  assert.deepEqual(
    checkSpriteFrames(planned, bad).map((p) => [p.chunk, p.problem]),
    [
      [0, 'sprite frames 3 are missing'],
      [1, 'sprite frames 9 are not its own'],
    ],
  );
});
