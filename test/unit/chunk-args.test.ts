// Chunk and audio-part ffmpeg arguments, pure: each rendition gets the single pass's encoder options
// (so rate control, quality and the init segment are the same), the chunk is cut in whole frames on the
// single pass's timeline, and the seek counts from the container's start as ffmpeg's -ss does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildAudioPartArgs,
  buildChunkArgs,
  chunkSpriteSlots,
  encodeFromFrame,
  spritePick,
} from '../../src/media/chunk-args.ts';
import { buildTranscodeArgs } from '../../src/media/ffmpeg-args.ts';
import { planChunks } from '../../src/templates/chunk-plan.ts';
import type { Plan, PlannedRendition } from '../../src/templates/ladder.ts';

const rendition = (name: string, width: number, height: number, kbps: number): PlannedRendition => ({
  name,
  width,
  height,
  sar: '1/1',
  videoBitrateKbps: kbps,
  maxrateKbps: Math.round(kbps * 1.5),
  bufsizeKbps: Math.round(kbps * 1.5) * 2,
  codecs: 'avc1.64001f',
});

const plan: Plan = {
  renditions: [rendition('720p', 1280, 720, 3000), rendition('360p', 640, 360, 800)],
  audio: { bitrateKbps: 128, channels: 2, codecs: 'mp4a.40.2' },
  frameRate: 29.97,
  changeFrameRate: false,
  toneMap: false,
  segmentSeconds: 4,
  durationSeconds: 100,
  holdLastFrameSeconds: 2,
  thumbnail: { atSeconds: 10, width: 640, height: 360 },
  sprites: { intervalSeconds: 5, width: 160, height: 90, columns: 5, rows: 5, count: 20, sheets: 1 },
  hls: true,
  dash: true,
  mp4: true,
  preset: 'veryfast',
};

const chunks =
  planChunks({
    durationSeconds: 100,
    sourceStartSeconds: 10,
    frameRate: 29.97,
    segmentSeconds: 4,
    chunkSeconds: 32,
    minInputSeconds: 60,
  }) ?? [];

/** The value after each occurrence of `flag` in `args[from, to)`. */
function values(args: string[], flag: string, from = 0, to = args.length): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) if (args[i] === flag) out.push(args[i + 1] ?? '');
  return out;
}

const ENCODER = ['-c:v', '-preset', '-profile:v', '-sc_threshold', '-flags'];

test("every rendition's encoder options are the single pass's", () => {
  const single = buildTranscodeArgs(plan, {
    input: 'in.ts',
    streamDir: 's',
    mp4: 'o.mp4',
    thumbnail: 'p.jpg',
    spriteDir: 'sp',
  });
  const chunk = chunks[1];
  assert.ok(chunk);
  const args = buildChunkArgs({
    plan,
    chunk,
    input: 'in.ts',
    sourceStartSeconds: 10,
    containerStartSeconds: 10,
    outputs: ['a.mp4', 'b.mp4'],
  });
  const maps = args.flatMap((a, i) => (a === '-map' ? [i] : []));
  assert.equal(maps.length, 2);
  plan.renditions.forEach((_, i) => {
    const from = maps[i] ?? 0;
    const to = maps[i + 1] ?? args.length;
    for (const flag of ENCODER) assert.deepEqual(values(args, flag, from, to), values(single, flag), flag);
    assert.deepEqual(values(args, '-b:v:0', from, to), values(single, `-b:v:${i}`));
    assert.deepEqual(values(args, '-maxrate:v:0', from, to), values(single, `-maxrate:v:${i}`));
    assert.deepEqual(values(args, '-bufsize:v:0', from, to), values(single, `-bufsize:v:${i}`));
    assert.equal(args[to - 1], ['a.mp4', 'b.mp4'][i]);
  });
});

test('a chunk is cut in whole frames from its pre-roll, seeking from the container start', () => {
  const [first, second, last] = [chunks[0], chunks[1], chunks.at(-1)];
  assert.ok(first && second && last && chunks.length === 3);
  const args = (c: typeof first) =>
    buildChunkArgs({
      plan,
      chunk: c,
      input: 'in.ts',
      sourceStartSeconds: 10,
      containerStartSeconds: 10,
      outputs: ['a.mp4', 'b.mp4'],
    });
  const graph = (c: typeof first) => values(args(c), '-filter_complex')[0] ?? '';
  // Pre-roll: one segment before the chunk, on the single pass's keyframe grid (29.97 fps, 4 s).
  assert.equal(encodeFromFrame(second, plan), Math.ceil(7 * 4 * 29.97));
  // Segment k starts at frame ceil(k × 4 × 29.97): 8 -> 960, 15 -> 1799, 16 -> 1919.
  assert.ok(graph(second).includes('setpts=PTS-10/TB,fps=29.97,trim=start_pts=840:end_pts=1919,'));
  assert.ok(graph(first).includes('fps=29.97:start_time=0,trim=start_pts=0:end_pts=960,'));
  // The hold of the last frame (audio outlasting video) only in the last chunk.
  assert.ok(graph(last).includes('trim=start_pts=1799,tpad=stop_mode=clone:stop=60,setpts=PTS-STARTPTS'));
  assert.doesNotMatch(graph(second), /tpad/);
  // The seek: 1 s before the pre-roll on the source's timeline, given from the container's start.
  assert.deepEqual(values(args(second), '-ss'), ['27']);
  assert.deepEqual(values(args(first), '-ss'), ['0']);
  assert.ok(args(second).indexOf('-copyts') < args(second).indexOf('-i'));
  // Keyframes on the single pass's grid, counted from the encode's first frame.
  assert.deepEqual(values(args(second), '-force_key_frames').slice(0, 1), [
    'expr:gte(n+840,ceil((n_forced+7)*119.88-0.000001))',
  ]);
});

test('the audio part: the whole audio through the DASH muxer as the last representation, and the poster', () => {
  const args = buildAudioPartArgs(plan, {
    input: 'in.ts',
    audioDir: 'parts/audio',
    audioId: 2,
    thumbnail: 'parts/audio/poster.jpg',
  });
  assert.deepEqual(values(args, '-f'), ['dash']);
  assert.deepEqual(values(args, '-init_seg_name'), ['init-2.m4s']);
  assert.deepEqual(values(args, '-media_seg_name'), ['chunk-2-$Number%05d$.m4s']);
  assert.deepEqual(values(args, '-seg_duration'), ['4']);
  assert.ok(values(args, '-af')[0]?.includes('atrim=end_sample='));
  assert.ok(args.includes('parts/audio/poster.jpg'));
  // The poster's input seeks to the poster time and reads only a few seconds from there.
  assert.deepEqual(values(args, '-ss'), ['10']);
  assert.deepEqual(values(args, '-t'), ['5']);
  assert.ok(args.indexOf('-t') < args.lastIndexOf('-i'));
  // No sprites here (the chunks make them), so input 0's video is never decoded.
  assert.equal(args.at(-1), 'parts/audio/poster.jpg');
  assert.ok(!args.includes('-filter_complex'));
});

test("sprite slots follow the single pass's fps=1/interval grid across chunk boundaries that are not on it", () => {
  // What ffmpeg 5.1's fps=1/I picked from a 25 fps clip (framemd5 against every frame): the last frame
  // before (k + 0.5) × I, so frame 24, 74, ... for 2 s and 37, 112, 187, ... for 3 s.
  assert.deepEqual(
    [0, 1, 2].map((k) => spritePick(k, 2, 25)),
    [24, 74, 124],
  );
  assert.deepEqual(
    [0, 1, 2, 9].map((k) => spritePick(k, 3, 25)),
    [37, 112, 187, 712],
  );
  // A grid point on a frame's own time belongs to the frame before it (29.97 × 2 × 0.5 = 29.97 < 30).
  assert.equal(spritePick(0, 2, 29.97), 29);
  // Segments of 4 s, chunks of 12 s (frames 0-299, 300-599, 600-), sprites every 3 s: slot 3 (9 s)
  // shows frame 262 (chunk 0), slot 4 (12 s) frame 337 (chunk 1); 40 s make 13 slots (the last, 36 s,
  // shows frame 937; a 14th would need frame 1012).
  const p25: Plan = {
    ...plan,
    frameRate: 25,
    sprites: { ...(plan.sprites as NonNullable<Plan['sprites']>), intervalSeconds: 3 },
  };
  const cs =
    planChunks({
      durationSeconds: 40,
      sourceStartSeconds: 0,
      frameRate: 25,
      segmentSeconds: 4,
      chunkSeconds: 12,
      minInputSeconds: 20,
    }) ?? [];
  assert.deepEqual(
    cs.map((c) => [c.firstFrame, c.endFrame]),
    [
      [0, 300],
      [300, 600],
      [600, null],
    ],
  );
  assert.deepEqual(
    cs.map((c) => chunkSpriteSlots(p25, c, 1000)),
    [
      { first: 0, count: 4 },
      { first: 4, count: 4 },
      { first: 8, count: 5 },
    ],
  );
  assert.deepEqual(chunkSpriteSlots(p25, cs[2] as (typeof cs)[number]), { first: 8, count: null });
  assert.equal(chunkSpriteSlots({ ...p25, sprites: null }, cs[0] as (typeof cs)[number]), null);
  // The chunk's ffmpeg: one more branch of the split, its frames numbered from the chunk's first slot,
  // kept with their times (no constant-rate copies), on the configured threads.
  const args = buildChunkArgs({
    plan: p25,
    chunk: cs[1] as (typeof cs)[number],
    input: 'in.mp4',
    sourceStartSeconds: 0,
    containerStartSeconds: 0,
    outputs: ['a.mp4', 'b.mp4'],
    spriteFrames: 'sp/frame-%05d.jpg',
    threads: 1,
  });
  const graph = values(args, '-filter_complex')[0] ?? '';
  assert.match(graph, /split=3\[s0\]\[s1\]\[s2\];/);
  assert.match(
    graph,
    /\[s2\]select=gte\(n\\,100\)\*gt\(.*\),scale=160:90:out_range=full,setsar=1,format=yuv420p\[sp\]$/,
  );
  const out = args.indexOf('sp/frame-%05d.jpg');
  assert.equal(out, args.length - 1);
  assert.deepEqual(args.slice(out - 3, out), ['5', '-threads', '1']);
  assert.deepEqual(values(args, '-fps_mode:v'), ['passthrough']);
  // Without a frames pattern (a range holding no slot), no sprite branch.
  const bare = buildChunkArgs({
    plan: p25,
    chunk: cs[1] as (typeof cs)[number],
    input: 'in.mp4',
    sourceStartSeconds: 0,
    containerStartSeconds: 0,
    outputs: ['a.mp4', 'b.mp4'],
  });
  assert.doesNotMatch(values(bare, '-filter_complex')[0] ?? '', /select/);
});
