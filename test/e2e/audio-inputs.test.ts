// Audio files against a real `sluice serve` process (issue 8 item 2): each common audio format dropped in
// the watch folder, and `sluice submit` (the real CLI) under the audio-only template and the default
// (video) template, becomes a COMPLETE job with HLS/DASH audio; what the video template could not make
// (MP4, poster) is named on the job, not an error. Objects the watcher skips are listed by the API.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { JobView } from '../../src/api/job-view.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer } from '../real-server.ts';

const run = promisify(execFile);
const SLUICE = path.resolve('bin/sluice.js');
const cleanup: (() => Promise<unknown>)[] = [];
const t = { after: (fn: () => Promise<void>) => void cleanup.push(fn) };
let server: RealServer;
let media = '';

/** One second of a tone in each container/codec people upload audio in (opus in ogg is demuxer `ogg`). */
const FORMATS: Record<string, string[]> = {
  'tone.m4a': ['-c:a', 'aac'],
  'tone.mp3': ['-c:a', 'libmp3lame'],
  'tone.wav': ['-c:a', 'pcm_s16le'],
  'tone.flac': ['-c:a', 'flac'],
  'tone.aac': ['-c:a', 'aac', '-f', 'adts'],
  'tone.ogg': ['-c:a', 'libvorbis'],
  'tone.opus': ['-c:a', 'libopus'],
};

async function gen(name: string, codec: string[], source = 'sine=frequency=440:duration=1'): Promise<string> {
  const file = path.join(media, name);
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    source,
    ...codec,
    file,
  ]);
  return file;
}

async function jobs(): Promise<JobView[]> {
  return ((await (await fetch(`${server.url}/v1/jobs`)).json()) as { jobs: JobView[] }).jobs;
}

async function finished(key: string, template?: string): Promise<JobView> {
  return waitFor(
    `the job of ${key} to finish`,
    async () => {
      const j = (await jobs()).find(
        (x) => x.input.key === key && (template === undefined || x.templateName === template),
      );
      return j && ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    120_000,
  );
}

async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE, '--server', server.url, ...args], {
      timeout: 120_000,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Skipped {
  bucket: string;
  key: string;
  reason: string;
  message: string;
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

async function skipped(limit?: number): Promise<Skipped[]> {
  const res = await fetch(`${server.url}/v1/ingest/skipped${limit ? `?limit=${limit}` : ''}`);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { skipped: Skipped[] }).skipped;
}

function assertAudioOutputs(job: JobView): void {
  assert.equal(job.status, 'COMPLETE', `${job.input.key}: ${job.error?.code} ${job.error?.message}`);
  const types = job.outputs.map((o) => o.type);
  assert.ok(types.includes('hls'), `${job.input.key}: an HLS master (${types})`);
  assert.ok(types.includes('dash'), `${job.input.key}: a DASH manifest (${types})`);
  assert.ok(!types.includes('rendition'), `${job.input.key}: no video rendition (${types})`);
}

before(async () => {
  media = await tempDir(t, 'sluice-audio-');
  // The default template (`tiny`) is a video template with an MP4 and a poster.
  server = await startRealServer(t);
});

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

test('each audio format dropped in the watch folder gives HLS/DASH audio under the default video template', async () => {
  for (const [name, codec] of Object.entries(FORMATS)) {
    await fs.copyFile(await gen(name, codec), path.join(server.source, name));
  }
  for (const name of Object.keys(FORMATS)) {
    const job = await finished(name);
    assertAudioOutputs(job);
    const types = job.outputs.map((o) => o.type);
    assert.ok(
      !types.includes('mp4') && !types.includes('thumbnail'),
      `${name}: no MP4, no poster (${types})`,
    );
    const master = await fs.readFile(
      path.join(server.destination, (job.outputs.find((o) => o.type === 'hls') as { key: string }).key),
      'utf8',
    );
    assert.match(master, /mp4a\.40\.2/, `${name}: AAC audio in the master`);
    assert.doesNotMatch(master, /RESOLUTION/, `${name}: no video variant`);
  }
  const one = (await jobs()).find((j) => j.input.key === 'tone.mp3') as JobView;
  const events = (await (await fetch(`${server.url}/v1/jobs/${one.id}/events`)).json()) as {
    events: { type: string; data: Record<string, unknown> }[];
  };
  const done = events.events.find((e) => e.type.includes('complete'));
  const left = (done?.data.skipped ?? []) as { part: string; reason: string }[];
  assert.deepEqual(
    left.map((s) => s.part).sort(),
    ['mp4', 'thumbnail', 'video'],
    `the job says what the audio-only input left out: ${JSON.stringify(done?.data)}`,
  );
  assert.ok(left.every((s) => /no video/.test(s.reason)));
  // The dry run says the same before anything runs.
  const planned = (await (
    await fetch(`${server.url}/v1/plan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'tone.wav' }),
    })
  ).json()) as { plan: { renditions: unknown[]; skipped?: { part: string }[] } };
  assert.deepEqual(planned.plan.renditions, []);
  assert.deepEqual(planned.plan.skipped?.map((s) => s.part).sort(), ['mp4', 'thumbnail', 'video']);
});

test('sluice submit song.m4a --template audio-only, and with the default template, complete with HLS/DASH audio', async () => {
  const song = await gen('song.m4a', ['-c:a', 'aac']);
  const a = await sluice('submit', song, '--template', 'audio-only', '--wait');
  assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
  assertAudioOutputs(await finished('song.m4a', 'audio-only'));

  const wav = await gen('voice.wav', ['-c:a', 'pcm_s16le']);
  const d = await sluice('submit', wav, '--wait');
  assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
  assertAudioOutputs(await finished('voice.wav', 'tiny'));
});

test('skipped objects (unknown suffix, temp name, symlink, invalid settings file) are listed by the API, once each', async () => {
  const outside = await tempDir(t, 'sluice-audio-outside-');
  await fs.writeFile(path.join(outside, 'real.mp3'), 'x');
  await fs.writeFile(path.join(server.source, 'notes.txt'), 'not media');
  await fs.writeFile(path.join(server.source, 'upload.mp3.part'), 'half');
  await fs.symlink(path.join(outside, 'real.mp3'), path.join(server.source, 'linked.mp3'));
  await fs.mkdir(path.join(server.source, 'jobs'), { recursive: true });
  await fs.writeFile(path.join(server.source, 'jobs', 'broken.json'), '{"ladder": "nope"');
  const want: [string, string][] = [
    ['notes.txt', 'UNKNOWN_SUFFIX'],
    ['upload.mp3.part', 'TEMP_NAME'],
    ['linked.mp3', 'SYMLINK'],
    ['jobs/broken.json', 'INVALID_SETTINGS'],
  ];
  const listed = await waitFor(
    'the four skip records',
    async () => {
      const s = await skipped();
      return want.every(([k, r]) => s.some((x) => x.key === k && x.reason === r)) && s;
    },
    30_000,
  );
  for (const [k, r] of want) {
    const rec = listed.find((x) => x.key === k && x.reason === r) as Skipped;
    assert.equal(rec.bucket, 'source');
    assert.ok(rec.message.length > 10, `${k}: a message (${rec.message})`);
  }
  // The watcher keeps polling every 100 ms; a file dropped after the skipped ones and its finished job
  // prove several polls have seen them again, and none made another record or bumped the count.
  await fs.copyFile(await gen('later.flac', ['-c:a', 'flac']), path.join(server.source, 'later.flac'));
  assertAudioOutputs(await finished('later.flac'));
  const again = await skipped();
  for (const [k, r] of want) {
    const recs = again.filter((x) => x.key === k && x.reason === r);
    assert.equal(recs.length, 1, `${k}: one record`);
    assert.equal(recs[0]?.count, 1, `${k}: seen as one version`);
  }
  // Newest first, and the limit holds.
  const sorted = [...again].sort((x, y) => y.lastSeenAt.localeCompare(x.lastSeenAt));
  assert.deepEqual(
    again.map((x) => x.key),
    sorted.map((x) => x.key),
  );
  assert.equal((await skipped(2)).length, 2);
  // The CLI lists them too.
  const cli = await sluice('skipped');
  assert.equal(cli.code, 0, cli.stderr);
  for (const [k, r] of want) assert.match(cli.stdout, new RegExp(`${r}\\s+source/${k.replace('.', '\\.')}`));
  // Each was logged at info (30) or above with its reason.
  for (const [k, r] of want) {
    assert.ok(
      server.logs().some((l) => l.key === k && l.reason === r && Number(l.level) >= 30),
      `${k}: logged with reason ${r}`,
    );
  }
});
