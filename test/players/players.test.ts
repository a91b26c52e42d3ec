// The default template's outputs played start to end in real players: HLS in hls.js and DASH in dash.js,
// inside Debian's Chromium (H.264/AAC through MSE), driven by playwright-core. No browser download.
// `npm test` runs this file on its own after the rest, away from concurrent encodes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { probe } from '../../src/media/probe.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { encode } from '../../src/worker/encode.ts';
import { publishList } from '../../src/worker/outputs.ts';
import { publish } from '../../src/worker/publish.ts';
import { clip } from '../helpers.ts';
import { assertPlayedWhole, CHROMIUM, type Harness, play, startHarness } from './play-harness.ts';

const run = promisify(execFile);

let root = '';
let browser: Browser | undefined;

/** The default template's settings, quicker: ultrafast, 1 s segments. */
function playersTemplate(over: Record<string, unknown> = {}) {
  const settings = { ...getBuiltinTemplate('abr-default'), name: 'players' };
  return parseTemplate({
    ...settings,
    video: { ...settings.video, preset: 'ultrafast' },
    packaging: { ...settings.packaging, segmentSeconds: 1 },
    ...over,
  });
}

/** One encode with the default template's settings into `<root>/<name>`. */
async function makeOutputs(name: string): Promise<string> {
  const dir = path.join(root, name);
  const input = await clip({ width: 640, height: 360, seconds: 4 });
  await encode(playersTemplate(), await probe(input), input, dir);
  return dir;
}

/**
 * One encode published as a job publishes it (entry points at the set's root, the rest under
 * `v/<version>/`, manifests rewritten to point there); returns the set's path under the served root.
 */
async function makePublishedSet(name: string, source?: string): Promise<string> {
  const dir = path.join(root, name);
  const input = source ?? (await clip({ width: 640, height: 360, seconds: 4 }));
  const work = path.join(dir, 'work');
  const r = await encode(playersTemplate({ sprites: { enabled: true } }), await probe(input), input, work);
  const objects = new LocalObjectStore(path.join(dir, 'data'));
  const set = 'clip.mp4/players';
  const items = await publishList(r.plan, { ...r.local, spriteVtt: r.spriteVtt }, 'clip', 'job_1-1');
  await publish(objects, 'destination', set, items, { jobId: 'job_1', attempt: 1 }, () => true);
  return `${name}/data/buckets/destination/${set}`;
}

let harness: Harness;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-players-'));
  harness = await startHarness(root);
  browser = harness.browser;
});

after(async () => {
  await harness?.close();
  await fs.rm(root, { recursive: true, force: true });
});

test('the default template plays start to end in hls.js and in dash.js', async (t) => {
  if (!browser) return t.skip(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  // What a job publishes, not the encoder's scratch folder: the rewritten manifests are what users get.
  const set = await makePublishedSet('good');
  for (const [page, manifest] of [
    ['hls', 'master.m3u8'],
    ['dash', 'manifest.mpd'],
  ] as const) {
    const r = await play(harness, page, `/media/${set}/${manifest}`, t);
    assertPlayedWhole(page, r, t, { minDuration: 3.5 });
    assert.ok(r.width >= 426, `${page}: a video rendition was shown (${r.width} px wide)`);
  }
});

test('the player check fails when a segment is broken: a corrupt segment is reported, not played through', async (t) => {
  if (!browser) return t.skip(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  const dir = await makeOutputs('broken');
  const stream = path.join(dir, 'stream');
  // Video segments 2-4 of the (one) video rendition are garbage.
  for (const f of await fs.readdir(stream)) {
    if (/^chunk-0-0000[2-4]\.m4s$/.test(f)) await fs.writeFile(path.join(stream, f), Buffer.alloc(4096, 7));
  }
  for (const [page, manifest] of [
    ['hls', 'master.m3u8'],
    ['dash', 'manifest.mpd'],
  ] as const) {
    const r = await play(harness, page, `/media/broken/stream/${manifest}`, t);
    t.diagnostic(`${page} on a broken stream: ${JSON.stringify(r)}`);
    // The same checks as the good run must fail: an error, no end, or frames missing.
    const passes = r.errors.length === 0 && r.ended && r.frames >= 114;
    assert.equal(passes, false, `${page} would have passed a broken stream: ${JSON.stringify(r)}`);
  }
});

/** An ISO 8601 duration as the MPD writes it (PT1H2M3.5S), in seconds. */
function isoSeconds(d: string): number {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?$/.exec(d);
  assert.ok(m, `an MPD duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** Where a representation's media ends: the last packet's end in its last segment. */
async function representationEnd(stream: string, id: string): Promise<number> {
  const chunks = (await fs.readdir(stream)).filter((f) => f.startsWith(`chunk-${id}-`)).sort();
  const last = chunks.at(-1);
  assert.ok(last, `representation ${id} has segments`);
  const joined = path.join(stream, `..`, `last-${id}.mp4`);
  await fs.writeFile(
    joined,
    Buffer.concat([
      await fs.readFile(path.join(stream, `init-${id}.m4s`)),
      await fs.readFile(path.join(stream, last)),
    ]),
  );
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'packet=pts_time,duration_time',
    '-of',
    'csv=p=0',
    joined,
  ]);
  return Math.max(
    ...stdout
      .trim()
      .split('\n')
      .map((l) => l.split(',').map(Number))
      .map(([pts = Number.NaN, dur = Number.NaN]) => pts + dur)
      .filter(Number.isFinite),
  );
}

test('the DASH manifest lasts as long as its media: no track ends after mediaPresentationDuration', async () => {
  // Why: dash.js ends playback by itself once currentTime reaches the MPD's duration; if a track (here
  // the audio, whole 1024-sample AAC frames) runs past it, the element has not ended then, and dash.js
  // pauses it and seeks back to duration - 0.5 s: the unrequested pause at 3.5 s of a 4 s clip.
  const dir = await makeOutputs('mpd');
  const stream = path.join(dir, 'stream');
  const mpd = await fs.readFile(path.join(stream, 'manifest.mpd'), 'utf8');
  const declared = isoSeconds(/mediaPresentationDuration="([^"]+)"/.exec(mpd)?.[1] ?? '');
  const ids = [...mpd.matchAll(/<Representation id="(\w+)"/g)].map((m) => m[1] ?? '');
  assert.ok(ids.length >= 2, 'video and audio representations');
  for (const id of ids) {
    const end = await representationEnd(stream, id);
    assert.ok(
      end <= declared + 0.001,
      `representation ${id} ends at ${end.toFixed(4)} s, after the MPD's mediaPresentationDuration of ${declared} s`,
    );
  }
});

test('a 0.5 s video with 4 s of audio plays to the end (about 4 s) in hls.js and dash.js, the last frame held', async (t) => {
  if (!browser) return t.skip(`no Chromium at ${CHROMIUM} (.ci/run installs it)`);
  // Before: the MPD said PT0.5S and the video playlist 0.5 s, so players dropped 3.5 s of sound.
  const input = path.join(root, 'short-video.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=0.5'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', input],
  ]);
  const set = await makePublishedSet('short-video', input);
  for (const [page, manifest] of [
    ['hls', 'master.m3u8'],
    ['dash', 'manifest.mpd'],
  ] as const) {
    const r = await play(harness, page, `/media/${set}/${manifest}`, t);
    // 4 s at 30 fps: the 105 held frames after the 15 real ones count.
    assertPlayedWhole(page, r, t, { minDuration: 3.9 });
  }
});
