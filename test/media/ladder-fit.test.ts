// A ladder that fits every source (issue 8 item 3), through the real encode path on generated clips:
// a source between rungs is published at its own size, and a video track that ends before its audio is
// held on its last frame so the presentation (DASH, HLS, MP4) covers the whole input.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { probe } from '../../src/media/probe.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { encode } from '../../src/worker/encode.ts';

const run = promisify(execFile);
let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-ladder-fit-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

/** testsrc2 for `videoSeconds` and a tone for `audioSeconds`, in one MP4. */
async function gen(name: string, size: string, videoSeconds: number, audioSeconds: number) {
  const file = path.join(dir, name);
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${size}:rate=30:duration=${videoSeconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=48000:duration=${audioSeconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    file,
  ]);
  return file;
}

/** abr-default's ladder, quicker: ultrafast, 1 s segments. */
const template = parseTemplate({
  name: 'fit',
  ladder: [
    { name: '1080p', height: 1080, videoBitrateKbps: 5000 },
    { name: '720p', height: 720, videoBitrateKbps: 3000 },
    { name: '360p', height: 360, videoBitrateKbps: 1000 },
  ],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 1 },
  sprites: { enabled: true, intervalSeconds: 1, columns: 4, rows: 1 },
});

async function encodeFile(input: string) {
  const work = await fs.mkdtemp(path.join(dir, 'work-'));
  return encode(template, await probe(input), input, work);
}

async function ffprobe(file: string, entries: string, select?: string): Promise<string> {
  const args = ['-v', 'error', ...(select ? ['-select_streams', select] : [])];
  const { stdout } = await run('ffprobe', [...args, '-show_entries', entries, '-of', 'csv=p=0', file]);
  return stdout.trim();
}

/** Where a representation's media ends: the last packet's end in its last segment. */
async function representationEnd(stream: string, id: string): Promise<number> {
  const chunks = (await fs.readdir(stream)).filter((f) => f.startsWith(`chunk-${id}-`)).sort();
  const last = chunks.at(-1);
  assert.ok(last, `representation ${id} has segments`);
  const joined = path.join(stream, '..', `last-${id}.mp4`);
  await fs.writeFile(
    joined,
    Buffer.concat([
      await fs.readFile(path.join(stream, `init-${id}.m4s`)),
      await fs.readFile(path.join(stream, last)),
    ]),
  );
  const packets = (await ffprobe(joined, 'packet=pts_time,duration_time')).split('\n');
  return Math.max(
    ...packets
      .map((l) => l.split(',').map(Number))
      .map(([pts = Number.NaN, dur = Number.NaN]) => pts + dur)
      .filter(Number.isFinite),
  );
}

test('854x480 between the 720p and 360p rungs: published at 854x480 and 360p, the MP4 at 854x480', async () => {
  const r = await encodeFile(await gen('480p.mp4', '854x480', 2, 2));
  assert.deepEqual(
    r.plan.renditions.map((x) => `${x.width}x${x.height}`),
    ['854x480', '640x360'],
  );
  const master = await fs.readFile(path.join(r.local.streamDir, 'master.m3u8'), 'utf8');
  assert.match(master, /RESOLUTION=854x480/);
  assert.match(master, /RESOLUTION=640x360/);
  // What was encoded, not what was planned: the top rendition's own segments and the MP4.
  assert.equal(await ffprobe(path.join(r.local.streamDir, 'init-0.m4s'), 'stream=width,height'), '854,480');
  assert.equal(await ffprobe(r.local.mp4, 'stream=width,height', 'v:0'), '854,480');
});

test('0.5 s of video with 4 s of audio: every output lasts 4 s, the last frame held, the poster inside the video', async () => {
  const input = await gen('short-video.mp4', '320x180', 0.5, 4);
  const media = await probe(input);
  assert.equal(media.video?.durationSeconds, 0.5, 'the input video lasts 0.5 s');
  const r = await encodeFile(input);
  const stream = r.local.streamDir;
  const mpd = await fs.readFile(path.join(stream, 'manifest.mpd'), 'utf8');
  const declared = Number(/mediaPresentationDuration="PT([\d.]+)S"/.exec(mpd)?.[1]);
  assert.ok(declared >= 3.98 && declared <= 4.05, `the MPD lasts ${declared} s of a 4 s input`);
  // No track may outlast the presentation (dash.js would pause before the end), and the video is there
  // to the end: the last frame held, not a black or missing picture.
  const ids = [...mpd.matchAll(/<Representation id="(\w+)"/g)].map((m) => m[1] ?? '');
  for (const id of ids) {
    const end = await representationEnd(stream, id);
    assert.ok(end <= declared + 0.001, `representation ${id} ends at ${end} s, after the MPD's ${declared}`);
    assert.ok(end >= 3.95, `representation ${id} ends at ${end} s of 4`);
  }
  const mp4Video = Number(await ffprobe(r.local.mp4, 'stream=duration', 'v:0'));
  assert.ok(mp4Video >= 3.95, `the MP4's video lasts ${mp4Video} s`);
  const hls = await fs.readFile(path.join(stream, 'media_0.m3u8'), 'utf8');
  const hlsSeconds = [...hls.matchAll(/#EXTINF:([\d.]+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  assert.ok(hlsSeconds >= 3.95, `the HLS video playlist lasts ${hlsSeconds} s`);
  // The poster is a frame of the 0.5 s of real video, not of the held tail.
  const at = r.plan.thumbnail?.atSeconds;
  assert.ok(at !== undefined && at < 0.5, `poster at ${at} s`);
  assert.ok((await fs.stat(r.local.thumbnail)).size > 0, 'a poster was made');
});
