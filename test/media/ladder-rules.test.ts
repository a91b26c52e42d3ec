// Each ladder rule and packaging property on a generated input, through the real encode path (plan ->
// one ffmpeg -> packaging), checked with ffprobe. Inputs are tiny lavfi clips made by the test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { SluiceError } from '../../src/errors.ts';
import { probe } from '../../src/media/probe.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { planJob } from '../../src/templates/ladder.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { encode } from '../../src/worker/encode.ts';
import { keyframeTimes } from '../helpers.ts';

const run = promisify(execFile);
let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-ladder-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

/** A clip from lavfi sources: `video` and `audio` are filtergraph sources, `out` extra output args. */
async function gen(
  name: string,
  o: { video?: string; audio?: string; out?: string[]; seconds?: number; rotate?: number },
) {
  const file = path.join(dir, name);
  const seconds = o.seconds ?? 2;
  const args = ['-v', 'error', '-y'];
  if (o.video) args.push('-f', 'lavfi', '-i', o.video);
  if (o.audio) args.push('-f', 'lavfi', '-i', o.audio);
  if (o.video) args.push('-c:v', 'libx264', '-preset', 'ultrafast');
  if (o.audio) args.push('-c:a', 'aac');
  args.push(...(o.out ?? []), '-t', String(seconds), file);
  await run('ffmpeg', args);
  if (o.rotate !== undefined) {
    // ffmpeg writes a rotation (display matrix) only when stream-copying, as phones' files carry it.
    const rotated = path.join(dir, `rotated-${name}`);
    await run('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      file,
      '-c',
      'copy',
      '-metadata:s:v:0',
      `rotate=${o.rotate}`,
      rotated,
    ]);
    return rotated;
  }
  return file;
}

const TONE = 'sine=frequency=440:sample_rate=48000';
const small = (extra: object = {}) =>
  parseTemplate({
    name: 'rules',
    ladder: [
      { name: '720p', height: 720, videoBitrateKbps: 1500 },
      { name: '360p', height: 360, videoBitrateKbps: 600 },
      { name: '240p', height: 240, videoBitrateKbps: 300 },
    ],
    video: { preset: 'ultrafast' },
    packaging: { segmentSeconds: 1 },
    sprites: { enabled: true, intervalSeconds: 1, columns: 2, rows: 1 },
    ...extra,
  });

async function encodeFile(input: string, template = small()) {
  const work = await fs.mkdtemp(path.join(dir, 'work-'));
  return encode(template, await probe(input), input, work);
}

async function streams(file: string) {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_streams',
    '-show_format',
    '-of',
    'json',
    file,
  ]);
  return JSON.parse(stdout) as {
    streams: Record<string, string | number | undefined>[];
    format: Record<string, string>;
  };
}

const video = (p: Awaited<ReturnType<typeof streams>>) => p.streams.find((s) => s.codec_type === 'video');
const audio = (p: Awaited<ReturnType<typeof streams>>) => p.streams.find((s) => s.codec_type === 'audio');

test('never upscale: a 640x360 source skips the 720p rung', async () => {
  const r = await encodeFile(await gen('360p.mp4', { video: 'testsrc2=size=640x360:rate=30', audio: TONE }));
  assert.deepEqual(
    r.plan.renditions.map((x) => `${x.width}x${x.height}`),
    ['640x360', '426x240'],
  );
  const master = await fs.readFile(path.join(r.local.streamDir, 'master.m3u8'), 'utf8');
  assert.doesNotMatch(master, /1280x720/);
});

test('keyframes on every segment boundary, the same in every rendition, and equal segment counts', async () => {
  const r = await encodeFile(
    await gen('kf.mp4', { video: 'testsrc2=size=640x360:rate=30', audio: TONE, seconds: 3 }),
  );
  const files = await fs.readdir(r.local.streamDir);
  const count = (i: number) => files.filter((f) => f.startsWith(`chunk-${i}-`)).length;
  assert.equal(count(0), 3);
  assert.equal(count(1), count(0));
  for (const i of [0, 1]) {
    assert.deepEqual(
      await keyframeTimes(path.join(r.local.streamDir, `media_${i}.m3u8`)),
      [0, 1, 2],
      `rendition ${i}`,
    );
  }
});

test('display aspect ratio kept with rotation applied: a phone video shot portrait stays portrait', async () => {
  const input = await gen('rotated.mp4', {
    video: 'testsrc2=size=640x360:rate=30',
    audio: TONE,
    rotate: 90,
  });
  const media = await probe(input);
  assert.equal(media.video?.rotation, 90, 'fixture carries rotation metadata');
  const r = await encodeFile(input);
  assert.deepEqual(
    r.plan.renditions.map((x) => `${x.width}x${x.height}`),
    ['360x640', '240x426'],
  );
  const out = video(await streams(r.local.mp4));
  assert.equal(out?.width, 360);
  assert.equal(out?.height, 640);
});

test('odd source 853x479: every rendition has even dimensions and the aspect is exact through SAR', async () => {
  const r = await encodeFile(await gen('odd.mp4', { video: 'testsrc2=size=853x479:rate=25', audio: TONE }));
  assert.ok(r.plan.renditions.length >= 1);
  for (const x of r.plan.renditions) {
    assert.equal(x.width % 2, 0);
    assert.equal(x.height % 2, 0);
  }
  const out = video(await streams(r.local.mp4));
  const [sw, sh] = String(out?.sample_aspect_ratio).split(':').map(Number);
  const shown = (Number(out?.width) * (sw ?? 1)) / (sh ?? 1) / Number(out?.height);
  assert.ok(Math.abs(shown / (853 / 479) - 1) < 0.002, `displayed aspect ${shown} vs source ${853 / 479}`);
});

test('a source smaller than every rung (160x120) still gets one rendition at its own size', async () => {
  const r = await encodeFile(await gen('tiny.mp4', { video: 'testsrc2=size=160x120:rate=30', audio: TONE }));
  assert.deepEqual(
    r.plan.renditions.map((x) => `${x.width}x${x.height}`),
    ['160x120'],
  );
  assert.equal(video(await streams(r.local.mp4))?.width, 160);
});

test('frame rate: 25 fps kept; 60 fps above a 30 fps cap halves to 30; variable rate made constant', async () => {
  const capped = small({ video: { preset: 'ultrafast', maxFrameRate: 30 } });
  const r25 = await encodeFile(
    await gen('25.mp4', { video: 'testsrc2=size=320x240:rate=25', audio: TONE }),
    capped,
  );
  assert.equal(video(await streams(r25.local.mp4))?.avg_frame_rate, '25/1');
  const r60 = await encodeFile(
    await gen('60.mp4', { video: 'testsrc2=size=320x240:rate=60', audio: TONE }),
    capped,
  );
  assert.equal(r60.plan.frameRate, 30);
  assert.equal(video(await streams(r60.local.mp4))?.avg_frame_rate, '30/1');
  const vfrInput = await gen('vfr.mp4', {
    video: "testsrc2=size=320x240:rate=30,select='lt(mod(n\\,6)\\,2)+eq(mod(n\\,6)\\,4)'",
    audio: TONE,
    out: ['-fps_mode', 'vfr'],
  });
  const media = await probe(vfrInput);
  assert.equal(media.video?.variableFrameRate, true, 'fixture is variable frame rate');
  const rv = await encodeFile(vfrInput);
  assert.equal(rv.plan.changeFrameRate, true);
  const out = video(await streams(rv.local.mp4));
  assert.equal(out?.avg_frame_rate, out?.r_frame_rate, 'constant frame rate out');
});

test('10-bit input gives 8-bit yuv420p H.264 High that browsers play', async () => {
  const r = await encodeFile(
    await gen('10bit.mp4', {
      video: 'testsrc2=size=320x240:rate=30',
      audio: TONE,
      out: ['-pix_fmt', 'yuv420p10le'],
    }),
  );
  const out = video(await streams(r.local.mp4));
  assert.equal(out?.pix_fmt, 'yuv420p');
  assert.ok(
    ['High', 'Main', 'Constrained Baseline'].includes(String(out?.profile)),
    `profile ${out?.profile}, not High 10`,
  );
});

test('HDR (PQ) input is tone-mapped to SDR BT.709', async (t) => {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-filters']);
  if (!/\bzscale\b/.test(stdout)) return t.skip('this ffmpeg has no zscale filter');
  const input = await gen('hdr.mp4', {
    video: 'testsrc2=size=320x240:rate=30',
    audio: TONE,
    out: [
      '-pix_fmt',
      'yuv420p10le',
      '-color_primaries',
      'bt2020',
      '-color_trc',
      'smpte2084',
      '-colorspace',
      'bt2020nc',
    ],
  });
  assert.equal((await probe(input)).video?.hdr, true, 'fixture is tagged HDR');
  const r = await encodeFile(input);
  assert.equal(r.plan.toneMap, true);
  const out = video(await streams(r.local.mp4));
  assert.equal(out?.pix_fmt, 'yuv420p');
  assert.notEqual(out?.color_transfer, 'smpte2084');
});

test('no audio: a video-only ladder, not a failure', async () => {
  const r = await encodeFile(await gen('silent.mp4', { video: 'testsrc2=size=320x240:rate=30' }));
  assert.equal(r.plan.audio, null);
  assert.equal(audio(await streams(r.local.mp4)), undefined);
  const master = await fs.readFile(path.join(r.local.streamDir, 'master.m3u8'), 'utf8');
  assert.doesNotMatch(master, /TYPE=AUDIO|mp4a/);
  const mpd = await fs.readFile(path.join(r.local.streamDir, 'manifest.mpd'), 'utf8');
  assert.doesNotMatch(mpd, /audio\/mp4/);
});

test('5.1 input gives stereo AAC', async () => {
  const input = await gen('surround.mp4', {
    video: 'testsrc2=size=320x240:rate=30',
    audio: `${TONE},aformat=channel_layouts=5.1`,
  });
  assert.equal((await probe(input)).audio?.channels, 6, 'fixture is 5.1');
  const r = await encodeFile(input);
  assert.equal(audio(await streams(r.local.mp4))?.channels, 2);
});

test('audio-only input: HLS/DASH audio under audio-only and under a video template, INPUT_NO_VIDEO under an MP4-only one', async () => {
  const input = await gen('talk.m4a', { audio: TONE });
  const media = await probe(input);
  const underVideo = planJob(getBuiltinTemplate('abr-default'), media);
  assert.deepEqual(underVideo.renditions, []);
  assert.ok(underVideo.audio && underVideo.hls && underVideo.dash && !underVideo.mp4);
  assert.deepEqual(
    underVideo.skipped?.map((s) => s.part),
    ['video', 'mp4', 'thumbnail', 'sprites'],
  );
  assert.throws(
    () => planJob(getBuiltinTemplate('mp4-h264-aac'), media),
    (err: unknown) =>
      err instanceof SluiceError && err.code === 'INPUT_NO_VIDEO' && /audio-only/.test(err.message),
  );
  const r = await encodeFile(input, getBuiltinTemplate('audio-only'));
  const master = await fs.readFile(path.join(r.local.streamDir, 'master.m3u8'), 'utf8');
  assert.match(master, /CODECS="mp4a\.40\.2"/);
  assert.doesNotMatch(master, /RESOLUTION/);
  const mpd = await fs.readFile(path.join(r.local.streamDir, 'manifest.mpd'), 'utf8');
  assert.match(mpd, /audio\/mp4/);
  assert.doesNotMatch(mpd, /video\/mp4/);
  const p = await streams(path.join(r.local.streamDir, 'media_0.m3u8'));
  assert.equal(audio(p)?.codec_name, 'aac');
  assert.equal(video(p), undefined);
});

test('a rendition bitrate is capped at the source bitrate when the source has less', async () => {
  const input = await gen('lowrate.mp4', {
    video: 'testsrc2=size=640x360:rate=30',
    audio: TONE,
    out: ['-b:v', '250k', '-maxrate', '250k', '-bufsize', '500k'],
  });
  const media = await probe(input);
  const plan = planJob(small(), media);
  const top = plan.renditions[0];
  assert.ok(
    top && top.videoBitrateKbps < 600,
    `360p target ${top?.videoBitrateKbps} kbit/s follows the ~250k source`,
  );
  assert.ok(top.videoBitrateKbps >= 100);
});

test('measured bitrate within ±15% of the target on a noisy source', async () => {
  const input = await gen('noisy.mp4', {
    video: 'testsrc2=size=640x360:rate=30,noise=alls=40:allf=t',
    audio: TONE,
    seconds: 4,
    out: ['-b:v', '8M'],
  });
  const template = small({
    ladder: [{ name: '360p', height: 360, videoBitrateKbps: 700 }],
    video: { preset: 'veryfast' },
    sprites: { enabled: false },
  });
  const r = await encodeFile(input, template);
  const measured = r.measured[0];
  assert.ok(measured);
  const ratio = measured.averageBitrate / 700_000;
  assert.ok(
    ratio > 0.85 && ratio < 1.15,
    `measured ${measured.averageBitrate} bit/s is ${ratio.toFixed(2)}x the target`,
  );
});

test('MP4 has moov before mdat; poster and sprites with a WebVTT index are made', async () => {
  const r = await encodeFile(
    await gen('pkg.mp4', { video: 'testsrc2=size=640x360:rate=30', audio: TONE, seconds: 3 }),
  );
  const { stdout } = await run('ffprobe', ['-v', 'trace', '-i', r.local.mp4], { maxBuffer: 64 << 20 }).catch(
    (e) => e,
  );
  const text =
    String(stdout ?? '') +
    String((await run('ffprobe', ['-v', 'trace', r.local.mp4]).catch((e) => e)).stderr ?? '');
  const moov = text.indexOf("type:'moov'");
  const mdat = text.indexOf("type:'mdat'");
  assert.ok(moov >= 0 && mdat > moov, 'moov comes first');
  const poster = await streams(r.local.thumbnail);
  assert.equal(video(poster)?.codec_name, 'mjpeg');
  const sheets = await fs.readdir(r.local.spriteDir);
  assert.deepEqual(sheets, ['sprite-001.jpg', 'sprite-002.jpg'], '3 frames on 2x1 sheets');
  const sheet = video(await streams(path.join(r.local.spriteDir, 'sprite-001.jpg')));
  assert.equal(sheet?.width, 320, 'two 160 px tiles side by side');
  const vtt = await fs.readFile(r.spriteVtt ?? '', 'utf8');
  assert.equal((vtt.match(/ --> /g) ?? []).length, 3);
  assert.match(vtt, /sprites\/sprite-002\.jpg#xywh=0,0,160,90/);
});
