// ffmpeg argument building, pure (the -progress parser is in progress.test.ts). Arguments are checked by structure, not snapshot.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  buildSpriteSheetArgs,
  buildTranscodeArgs,
  type TranscodePaths,
  teeEscape,
} from '../../src/media/ffmpeg-args.ts';
import type { Plan, PlannedRendition } from '../../src/templates/ladder.ts';

function rendition(name: string, width: number, height: number, kbps: number): PlannedRendition {
  return {
    name,
    width,
    height,
    sar: '1/1',
    videoBitrateKbps: kbps,
    maxrateKbps: Math.round(kbps * 1.2),
    bufsizeKbps: Math.round(kbps * 1.2) * 2,
    codecs: 'avc1.640028',
  };
}

function makePlan(over: Partial<Plan> = {}): Plan {
  return {
    renditions: [
      rendition('1080p', 1920, 1080, 5000),
      rendition('720p', 1280, 720, 3000),
      rendition('360p', 640, 360, 1000),
    ],
    audio: { bitrateKbps: 128, channels: 2, codecs: 'mp4a.40.2' },
    frameRate: 30,
    changeFrameRate: false,
    toneMap: false,
    segmentSeconds: 4,
    durationSeconds: 60,
    thumbnail: { atSeconds: 6, width: 640, height: 360 },
    sprites: null,
    hls: true,
    dash: true,
    mp4: true,
    preset: 'veryfast',
    ...over,
  };
}

const PATHS: TranscodePaths = {
  input: '/tmp/job/in/my clip; rm -rf ~ $(whoami) `id` && echo.mp4',
  streamDir: '/tmp/job/out/stream',
  mp4: '/tmp/job/out/clip.mp4',
  thumbnail: '/tmp/job/out/thumbnails/poster.jpg',
  spriteDir: '/tmp/job/out/thumbnails',
};

/** The value following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === flag) {
      const v = args[i + 1];
      assert.ok(v !== undefined, `${flag} has a value`);
      out.push(v);
    }
  });
  return out;
}

function argOf(args: string[], flag: string): string {
  const all = valuesOf(args, flag);
  assert.equal(all.length, 1, `exactly one ${flag} in ${JSON.stringify(args)}`);
  return all[0] as string;
}

/** Tee slaves split on unescaped `|`. */
function teeSlaves(args: string[]): string[] {
  const tee = args[args.indexOf('tee') + 1];
  assert.equal(args[args.indexOf('tee') - 1], '-f');
  assert.ok(tee !== undefined);
  return tee.split(/(?<!\\)\|/);
}

describe('buildTranscodeArgs', () => {
  test('args are an array of strings; every -i names the input path verbatim (the poster seeks in a second)', () => {
    const args = buildTranscodeArgs(makePlan(), PATHS);
    assert.ok(Array.isArray(args));
    for (const a of args) assert.equal(typeof a, 'string');
    assert.deepEqual(valuesOf(args, '-i'), [PATHS.input, PATHS.input]);
    assert.equal(argOf(buildTranscodeArgs(makePlan({ thumbnail: null }), PATHS), '-i'), PATHS.input);
  });

  test('one decode feeds every rendition: split=N with N = renditions', () => {
    const plan = makePlan();
    const fc = argOf(buildTranscodeArgs(plan, PATHS), '-filter_complex');
    assert.match(fc, /split=3\[s0\]\[s1\]\[s2\];/);
    assert.equal(fc.match(/split=/g)?.length, 1, 'one split, one decode');
    for (const r of plan.renditions) assert.ok(fc.includes(`scale=${r.width}:${r.height}`), r.name);
  });

  test('sprites add one more split branch, written frame by frame into the frames folder', () => {
    const plan = makePlan({
      sprites: { intervalSeconds: 2, width: 160, height: 90, columns: 10, rows: 10, count: 30, sheets: 1 },
    });
    const args = buildTranscodeArgs(plan, PATHS);
    assert.match(argOf(args, '-filter_complex'), /split=4\[s0\]\[s1\]\[s2\]\[s3\]/);
    assert.match(argOf(args, '-filter_complex'), /\[s3\]fps=1\/2,scale=160:90[^;]*\[sp\]$/);
    const at = args.indexOf('[sp]');
    assert.equal(args[at - 1], '-map');
    assert.equal(args.at(-1), path.join(PATHS.spriteDir, 'frames', 'frame-%05d.jpg'));
  });

  test('every image output gets its first frame at once: no tile and no trim in the encode', () => {
    // ffmpeg 5.x prints no -progress report before every output has its first frame: a tile sheet
    // (100 frames 2 s apart) or a trimmed poster would hold every report back to the end.
    const args = buildTranscodeArgs(
      makePlan({
        sprites: { intervalSeconds: 2, width: 160, height: 90, columns: 10, rows: 10, count: 30, sheets: 1 },
      }),
      PATHS,
    );
    for (const a of args) assert.ok(!/\btile=|\btrim=start/.test(a), a);
  });

  test('the sprite sheets are tiled afterwards from the frames, at the plan columns x rows', () => {
    const sprites = { intervalSeconds: 2, width: 160, height: 90, columns: 5, rows: 4, count: 30, sheets: 2 };
    const args = buildSpriteSheetArgs(sprites, PATHS);
    assert.equal(argOf(args, '-i'), path.join(PATHS.spriteDir, 'frames', 'frame-%05d.jpg'));
    assert.equal(argOf(args, '-vf'), 'tile=5x4');
    assert.equal(args.at(-1), path.join(PATHS.spriteDir, 'sprite-%03d.jpg'));
  });

  test('each rendition is mapped with its own bitrate, peak rate and buffer from the plan', () => {
    const plan = makePlan();
    const args = buildTranscodeArgs(plan, PATHS);
    const maps = valuesOf(args, '-map');
    plan.renditions.forEach((r, i) => {
      assert.ok(maps.includes(`[v${i}]`), `-map [v${i}]`);
      assert.equal(argOf(args, `-b:v:${i}`), `${r.videoBitrateKbps}k`);
      assert.equal(argOf(args, `-maxrate:v:${i}`), `${r.maxrateKbps}k`);
      assert.equal(argOf(args, `-bufsize:v:${i}`), `${r.bufsizeKbps}k`);
    });
    assert.equal(maps.filter((m) => /^\[v\d+\]$/.test(m)).length, plan.renditions.length);
  });

  test('keyframes are forced at every segment boundary and scene-cut keyframes are off', () => {
    for (const segmentSeconds of [4, 6]) {
      const args = buildTranscodeArgs(makePlan({ segmentSeconds }), PATHS);
      assert.equal(argOf(args, '-force_key_frames'), `expr:gte(t,n_forced*${segmentSeconds})`);
      assert.equal(argOf(args, '-sc_threshold'), '0');
    }
  });

  test('output goes through the tee muxer to a DASH slave with HLS playlists and an MP4 slave with faststart', () => {
    const args = buildTranscodeArgs(makePlan({ segmentSeconds: 6 }), PATHS);
    const slaves = teeSlaves(args);
    assert.equal(slaves.length, 2);
    const dash = slaves.find((s) => s.includes('f=dash'));
    const mp4 = slaves.find((s) => s.includes('f=mp4'));
    assert.ok(dash && mp4, slaves.join(' | '));
    assert.ok(dash.includes('seg_duration=6'), dash);
    assert.ok(dash.includes('hls_playlist=1'), dash);
    assert.ok(dash.endsWith(path.join(PATHS.streamDir, 'manifest.mpd')), dash);
    assert.ok(mp4.includes('movflags=+faststart'), mp4);
    assert.ok(mp4.endsWith(PATHS.mp4), mp4);
  });

  test('DASH only (hls false) writes no HLS playlists', () => {
    const dash = teeSlaves(buildTranscodeArgs(makePlan({ hls: false }), PATHS)).find((s) =>
      s.includes('f=dash'),
    );
    assert.ok(dash?.includes('hls_playlist=0'), dash);
  });

  test('with audio: audio is mapped once and gets its own adaptation set', () => {
    const args = buildTranscodeArgs(makePlan(), PATHS);
    assert.equal(valuesOf(args, '-map').filter((m) => m === '0:a:0').length, 1);
    assert.equal(argOf(args, '-b:a'), '128k');
    assert.equal(argOf(args, '-ac'), '2');
    const dash = teeSlaves(args).find((s) => s.includes('f=dash')) ?? '';
    assert.ok(dash.includes('streams\\=a'), dash);
  });

  test('without audio there is no audio map and no audio adaptation set', () => {
    const args = buildTranscodeArgs(makePlan({ audio: null }), PATHS);
    assert.ok(!valuesOf(args, '-map').includes('0:a:0'));
    assert.ok(!args.includes('-c:a'));
    const slaves = teeSlaves(args);
    const dash = slaves.find((s) => s.includes('f=dash')) ?? '';
    assert.ok(dash.includes('adaptation_sets='), dash);
    assert.ok(!dash.includes('streams\\=a'), dash);
    assert.ok(dash.includes('streams\\=v'), dash);
    const mp4 = slaves.find((s) => s.includes('f=mp4')) ?? '';
    assert.ok(!/select=[^\]]*,a/.test(mp4), `mp4 selects no audio: ${mp4}`);
  });

  test('mp4 disabled: no MP4 tee slave', () => {
    const args = buildTranscodeArgs(makePlan({ mp4: false }), PATHS);
    const slaves = teeSlaves(args);
    assert.equal(slaves.length, 1);
    assert.ok(!slaves.some((s) => s.includes('f=mp4')));
    assert.ok(!args.some((a) => a.includes(PATHS.mp4)));
  });

  test('no thumbnail: no [th] branch and no thumbnail output', () => {
    const args = buildTranscodeArgs(makePlan({ thumbnail: null }), PATHS);
    assert.ok(!args.some((a) => a.includes('[th]')));
    assert.ok(!args.includes(PATHS.thumbnail));
    assert.ok(!args.includes('-ss'));
    assert.match(argOf(args, '-filter_complex'), /split=3\[s0\]\[s1\]\[s2\]/);
  });

  test('the thumbnail is the first frame of a second input seeking to the poster time, one frame', () => {
    const args = buildTranscodeArgs(makePlan(), PATHS);
    assert.equal(argOf(args, '-ss'), '6');
    assert.ok(args.indexOf('-ss') < args.lastIndexOf('-i'), '-ss is an input option of input 1');
    const at = args.indexOf('1:v:0');
    assert.equal(args[at - 1], '-map');
    assert.ok(args.indexOf(PATHS.thumbnail) > at);
    assert.equal(argOf(args, '-frames:v'), '1', '-frames:v 1');
    assert.ok(args.indexOf('-frames:v') > at && args.indexOf('-frames:v') < args.indexOf(PATHS.thumbnail));
    // A full-range JPEG from yuv420p (no deprecated yuvj format through swscale).
    assert.equal(argOf(args, '-vf'), 'scale=640:360:out_range=full,setsar=1,format=yuv420p');
    // The same input restrictions as the main input.
    assert.equal(valuesOf(args, '-protocol_whitelist').length, 2);
  });

  test('the poster input is read for a few seconds only, not decoded to the end beside the encode', () => {
    // ffmpeg 5.1 keeps decoding an input whose only output already has its one frame: without a bound the
    // poster input decodes the rest of the video a second time, on the cores the encode needs.
    const args = buildTranscodeArgs(makePlan(), PATHS);
    const poster = args.lastIndexOf('-i');
    const t = args.lastIndexOf('-t', poster);
    assert.ok(t > args.indexOf('-ss') && t < poster, '-t is an input option of the poster input');
    assert.ok(Number(args[t + 1]) > 0 && Number(args[t + 1]) <= 10, `reads ${args[t + 1]} s`);
    assert.ok(!args.slice(0, args.indexOf(PATHS.input)).includes('-t'), 'the main input is read whole');
  });

  test('progress is reported on stdout: -progress pipe:1', () => {
    assert.equal(argOf(buildTranscodeArgs(makePlan(), PATHS), '-progress'), 'pipe:1');
  });

  test('a frame rate change adds one fps filter before the split', () => {
    const fc = argOf(
      buildTranscodeArgs(makePlan({ changeFrameRate: true, frameRate: 60 }), PATHS),
      '-filter_complex',
    );
    assert.match(fc, /^\[0:v:0\]fps=60,split=/);
    const none = argOf(buildTranscodeArgs(makePlan(), PATHS), '-filter_complex');
    assert.ok(!none.includes('fps='), none);
  });

  test('audio only: no filter graph, no video encoder, no MP4, audio in the DASH slave', () => {
    const args = buildTranscodeArgs(
      makePlan({ renditions: [], thumbnail: null, mp4: false, frameRate: null }),
      PATHS,
    );
    assert.ok(!args.includes('-filter_complex'));
    assert.ok(!args.includes('-c:v'));
    assert.ok(valuesOf(args, '-map').includes('0:a:0'));
    const slaves = teeSlaves(args);
    assert.equal(slaves.length, 1);
    assert.ok(slaves[0]?.includes('id\\=0\\,streams\\=a'), slaves[0]);
  });

  test('args are for execFile, not a shell: no element is a shell command and flags are never merged with values', () => {
    const args = buildTranscodeArgs(
      makePlan({
        sprites: { intervalSeconds: 2, width: 160, height: 90, columns: 10, rows: 10, count: 30, sheets: 1 },
      }),
      PATHS,
    );
    // The input path, full of shell syntax, is one element each time (main and poster input), not split
    // or quoted for a shell.
    assert.equal(args.filter((a) => a === PATHS.input).length, 2);
    for (const a of args) {
      if (a === PATHS.input) continue;
      assert.ok(!/&&|\|\||\$\(|`|;\s|\n|^\s|\s$/.test(a), `shell syntax in ${JSON.stringify(a)}`);
      assert.ok(!/^["'].*["']$/.test(a), `shell-quoted element ${JSON.stringify(a)}`);
      if (a.startsWith('-')) assert.ok(!/\s/.test(a), `flag merged with a value: ${JSON.stringify(a)}`);
    }
  });
});

describe('teeEscape', () => {
  test("escapes every character the tee muxer treats as syntax: \\ : | [ ] = , '", () => {
    assert.equal(teeEscape("a:b|c[d]e=f,g'h\\i"), "a\\:b\\|c\\[d\\]e\\=f\\,g\\'h\\\\i");
  });

  test('leaves ordinary path characters alone', () => {
    assert.equal(teeEscape('/tmp/out dir/clip-1_a.mp4'), '/tmp/out dir/clip-1_a.mp4');
  });

  test('a stream path with tee syntax in it is escaped inside the slave', () => {
    const args = buildTranscodeArgs(makePlan(), { ...PATHS, streamDir: '/tmp/a|b:c', mp4: '/tmp/x[1].mp4' });
    const slaves = teeSlaves(args);
    assert.equal(slaves.length, 2, 'the | in the path did not split the slave list');
    assert.ok(
      slaves.some((s) => s.endsWith('/tmp/a\\|b\\:c/manifest.mpd')),
      slaves.join(' || '),
    );
    assert.ok(
      slaves.some((s) => s.endsWith('/tmp/x\\[1\\].mp4')),
      slaves.join(' || '),
    );
  });
});

test('audio is cut to the last whole AAC frame inside the presentation, so no DASH track outlasts the MPD', async () => {
  const { audioEndSample } = await import('../../src/media/ffmpeg-args.ts');
  assert.equal(audioEndSample(4), 187 * 1024, '4 s at 48 kHz is 187.5 frames: 187 whole ones');
  assert.equal(audioEndSample(2), 93 * 1024);
  assert.equal(audioEndSample(null), null, 'unknown duration: no cut');
  assert.equal(audioEndSample(0.001), 1024, 'never below one frame');
});
