// ffmpeg argument building and -progress parsing, pure. Arguments are checked by structure, not snapshot.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildTranscodeArgs, type TranscodePaths, teeEscape } from '../../src/media/ffmpeg-args.ts';
import { ProgressParser, type ProgressSample, toJobProgress } from '../../src/media/progress.ts';
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
  test('args are an array of strings with exactly one -i naming the input path verbatim', () => {
    const args = buildTranscodeArgs(makePlan(), PATHS);
    assert.ok(Array.isArray(args));
    for (const a of args) assert.equal(typeof a, 'string');
    assert.equal(argOf(args, '-i'), PATHS.input);
  });

  test('one decode feeds every rendition and the thumbnail: split=N with N = renditions + 1', () => {
    const plan = makePlan();
    const fc = argOf(buildTranscodeArgs(plan, PATHS), '-filter_complex');
    assert.match(fc, /split=4\[s0\]\[s1\]\[s2\]\[s3\]/);
    assert.equal(fc.match(/split=/g)?.length, 1, 'one split, one decode');
    for (const r of plan.renditions) assert.ok(fc.includes(`scale=${r.width}:${r.height}`), r.name);
    assert.ok(fc.includes('[th]'));
  });

  test('sprites add one more split branch', () => {
    const plan = makePlan({
      sprites: { intervalSeconds: 2, width: 160, height: 90, columns: 10, rows: 10, count: 30, sheets: 1 },
    });
    const args = buildTranscodeArgs(plan, PATHS);
    assert.match(argOf(args, '-filter_complex'), /split=5\[s0\]\[s1\]\[s2\]\[s3\]\[s4\]/);
    assert.ok(valuesOf(args, '-map').includes('[sp]'));
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
    assert.match(argOf(args, '-filter_complex'), /split=3\[s0\]\[s1\]\[s2\]/);
  });

  test('the thumbnail branch is mapped to the thumbnail path, one frame', () => {
    const args = buildTranscodeArgs(makePlan(), PATHS);
    const at = args.indexOf('[th]');
    assert.equal(args[at - 1], '-map');
    assert.ok(args.indexOf(PATHS.thumbnail) > at);
    assert.match(argOf(args, '-filter_complex'), /trim=start=6,/);
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
    // The input path, full of shell syntax, is one element, not split or quoted for a shell.
    assert.equal(args.filter((a) => a === PATHS.input).length, 1);
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

describe('ProgressParser', () => {
  test('chunks split mid-line and mid-block still give whole samples', () => {
    const parser = new ProgressParser();
    const stream =
      'frame=30\nfps=29.5\nout_time_us=1000000\nspeed=1.5x\nprogress=continue\n' +
      'frame=60\nfps=30.0\nout_time_us=2500000\nspeed=2x\nprogress=end\n';
    const chunks = [stream.slice(0, 7), stream.slice(7, 23), stream.slice(23, 70), stream.slice(70)];
    assert.equal(chunks.join(''), stream);
    const samples: ProgressSample[] = chunks.flatMap((c) => parser.push(c));
    assert.deepEqual(samples, [
      { outTimeSeconds: 1, fps: 29.5, speed: 1.5, done: false },
      { outTimeSeconds: 2.5, fps: 30, speed: 2, done: true },
    ]);
  });

  test('a sample is emitted only when its block ends with progress=', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('out_time_us=500000\nfps=10\n'), []);
    assert.deepEqual(parser.push('speed=0.5x\nprogress=continue\n'), [
      { outTimeSeconds: 0.5, fps: 10, speed: 0.5, done: false },
    ]);
  });

  test('N/A values become null and a missing time is 0', () => {
    const parser = new ProgressParser();
    assert.deepEqual(parser.push('out_time_us=N/A\nfps=N/A\nspeed=N/A\nprogress=continue\n'), [
      { outTimeSeconds: 0, fps: null, speed: null, done: false },
    ]);
  });

  test('out_time_ms is read as microseconds when out_time_us is missing', () => {
    const parser = new ProgressParser();
    assert.equal(parser.push('out_time_ms=3000000\nprogress=continue\n')[0]?.outTimeSeconds, 3);
  });

  test('blocks do not leak values into the next block', () => {
    const parser = new ProgressParser();
    const [, second] = parser.push('fps=25\nspeed=1x\nprogress=continue\nout_time_us=1\nprogress=continue\n');
    assert.equal(second?.fps, null);
    assert.equal(second?.speed, null);
  });
});

describe('toJobProgress', () => {
  const sample = (over: Partial<ProgressSample>): ProgressSample => ({
    outTimeSeconds: 0,
    fps: 30,
    speed: 2,
    done: false,
    ...over,
  });

  test('percent is out time over duration and ETA is the remaining time over the speed', () => {
    assert.deepEqual(toJobProgress(sample({ outTimeSeconds: 15, speed: 2 }), 60), {
      percent: 25,
      fps: 30,
      speed: 2,
      etaSeconds: 23,
    });
  });

  test('percent never exceeds 100 and ETA never goes negative when out time passes the duration', () => {
    const p = toJobProgress(sample({ outTimeSeconds: 61 }), 60);
    assert.equal(p.percent, 100);
    assert.equal(p.etaSeconds, 0);
  });

  test('no speed yet: ETA unknown (null), percent still computed', () => {
    const p = toJobProgress(sample({ outTimeSeconds: 30, speed: null }), 60);
    assert.equal(p.percent, 50);
    assert.equal(p.etaSeconds, null);
    assert.equal(toJobProgress(sample({ outTimeSeconds: 30, speed: 0 }), 60).etaSeconds, null);
  });

  test('unknown duration: percent 0 and ETA null, fps and speed passed through', () => {
    for (const d of [null, 0]) {
      assert.deepEqual(toJobProgress(sample({ outTimeSeconds: 30, fps: 24, speed: 1.5 }), d), {
        percent: 0,
        fps: 24,
        speed: 1.5,
        etaSeconds: null,
      });
    }
  });

  test('the end sample is 100 percent with ETA 0, even with unknown duration', () => {
    assert.deepEqual(toJobProgress(sample({ done: true, outTimeSeconds: 10 }), null), {
      percent: 100,
      fps: 30,
      speed: 2,
      etaSeconds: 0,
    });
  });
});

test('audio is cut to the last whole AAC frame inside the presentation, so no DASH track outlasts the MPD', async () => {
  const { audioEndSample } = await import('../../src/media/ffmpeg-args.ts');
  assert.equal(audioEndSample(4), 187 * 1024, '4 s at 48 kHz is 187.5 frames: 187 whole ones');
  assert.equal(audioEndSample(2), 93 * 1024);
  assert.equal(audioEndSample(null), null, 'unknown duration: no cut');
  assert.equal(audioEndSample(0.001), 1024, 'never below one frame');
});
