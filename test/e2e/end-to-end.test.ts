// The whole path on the embedded default, with real processes: `sluice serve`'s service, a file copied
// into the source bucket, a worker child process, real ffmpeg, outputs checked with ffprobe.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { JobView } from '../../src/api/job-view.ts';
import { ApiClient } from '../../src/cli/api-client.ts';
import { loadConfig } from '../../src/config/config.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { startService } from '../../src/service.ts';
import { clip, keyframeTimes, silentLog, tempDir, waitFor } from '../helpers.ts';

const run = promisify(execFile);

async function serve(t: Parameters<typeof tempDir>[0], template?: object) {
  const dataDir = await tempDir(t);
  if (template) {
    await fs.mkdir(path.join(dataDir, 'templates'));
    await fs.writeFile(path.join(dataDir, 'templates', 'e2e.json'), JSON.stringify(template));
  }
  const config = loadConfig(
    {
      dataDir,
      port: 0,
      settleMs: 300,
      schedulerIntervalMs: 100,
      heartbeatSeconds: 0.3,
      concurrency: 1,
      logLevel: 'silent',
      defaultTemplate: template ? 'e2e' : 'abr-default',
    },
    {},
  );
  const service = await startService(config, silentLog);
  // Once only: a test may stop the service itself to wait until everything in flight has been handled.
  let stopped: Promise<void> | undefined;
  const stop = (graceMs?: number) => {
    stopped ??= service.stop(graceMs);
    return stopped;
  };
  t.after(() => stop());
  return { dataDir, service, stop, api: new ApiClient(service.url) };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return (await res.json()) as T;
}

/** Top-level MP4 box types in file order. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const buf = await fs.readFile(file);
  const boxes: string[] = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (size === 1) size = Number(buf.readBigUInt64BE(off + 8));
    boxes.push(type);
    if (size < 8) break;
    off += size;
  }
  return boxes;
}

test('a clip copied into the source bucket becomes a COMPLETE job with HLS, DASH, MP4 and a thumbnail', async (t) => {
  const { dataDir, service } = await serve(t, {
    ladder: [
      { name: '720p', height: 720, videoBitrateKbps: 1500 },
      { name: '360p', height: 360, videoBitrateKbps: 500 },
      { name: '240p', height: 240, videoBitrateKbps: 300 },
    ],
    video: { preset: 'ultrafast' },
    packaging: { segmentSeconds: 1 },
  });
  const input = await clip({ width: 640, height: 360, seconds: 2 });
  const target = path.join(dataDir, 'buckets', 'source', 'course', 'lesson 1.mp4');
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.copyFile(input, target);

  const listed = await waitFor('the job in GET /jobs/COMPLETE', async () => {
    const { jobs } = await getJson<{ jobs: JobView[] }>(`${service.url}/jobs/COMPLETE`);
    if (jobs.length > 0) return jobs;
    const { jobs: failed } = await getJson<{ jobs: JobView[] }>(`${service.url}/jobs/ERROR`);
    assert.equal(
      failed.length,
      0,
      `job failed: ${JSON.stringify(failed[0]?.error)} ${failed[0]?.stderrTail}`,
    );
    return null;
  });
  assert.equal(listed.length, 1, 'exactly one job for one file');
  const job = await getJson<JobView>(`${service.url}/jobs/${listed[0]?.id}`);
  assert.equal(job.status, 'COMPLETE');
  assert.equal(job.input.key, 'course/lesson 1.mp4');
  assert.equal(job.attempts, 1);
  assert.equal(job.progress.percent, 100);
  assert.equal(job.inputMedia?.video?.width, 640);
  assert.equal(job.inputMedia?.audio?.codec, 'aac');
  assert.deepEqual(job.outputs.map((o) => o.type).sort(), [
    'audio-rendition',
    'dash',
    'hls',
    'mp4',
    'rendition',
    'rendition',
    'segments',
    'thumbnail',
  ]);

  // <input key, extension kept>/<template>/; manifests name the files of the attempt's version folder.
  const out = path.join(dataDir, 'buckets', 'destination', 'course', 'lesson 1.mp4', 'e2e');
  const version = path.join(out, 'v', `${job.id}-1`);
  const master = await fs.readFile(path.join(out, 'master.m3u8'), 'utf8');
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
  assert.equal(variants.length, 2, '720p is skipped for a 360p source: never upscale');
  assert.match(variants[0] ?? '', /RESOLUTION=640x360/);
  assert.match(variants[1] ?? '', /RESOLUTION=426x240/);
  assert.match(master, /TYPE=AUDIO/);
  const mpd = await fs.readFile(path.join(out, 'manifest.mpd'), 'utf8');
  assert.equal((mpd.match(/<Representation /g) ?? []).length, 3, 'two video and one audio representation');

  assert.match(
    master,
    new RegExp(`^v/${job.id}-1/media_0\\.m3u8$`, 'm'),
    'the master points into the version',
  );
  assert.match(mpd, new RegExp(`<BaseURL>v/${job.id}-1/</BaseURL>`));
  const files = await fs.readdir(version);
  const segments = (rep: number) =>
    files.filter((f) => f.startsWith(`chunk-${rep}-`) && f.endsWith('.m4s')).length;
  assert.equal(segments(0), 2, '2 s at 1 s segments');
  assert.equal(segments(1), segments(0), 'every rendition has the same segments');
  // Keyframes at every segment boundary, identically in each rendition.
  for (const rep of [0, 1]) {
    const playlist = await fs.readFile(path.join(version, `media_${rep}.m3u8`), 'utf8');
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(durations, [1, 1]);
  }
  const mp4 = path.join(out, 'lesson 1.mp4');
  const boxes = await topLevelBoxes(mp4);
  assert.ok(
    boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'),
    `moov before mdat: ${boxes}`,
  );
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_name,width,height',
    '-of',
    'json',
    mp4,
  ]);
  const streams = JSON.parse(stdout).streams as { codec_name: string; width?: number }[];
  assert.deepEqual(streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(streams.find((s) => s.codec_name === 'h264')?.width, 640, 'the MP4 is the top rendition');
  assert.deepEqual(await keyframeTimes(mp4), [0, 1], 'keyframes on the 1 s segment grid');
  const jpeg = await fs.readFile(path.join(out, 'thumbnails', 'lesson 1.jpg'));
  assert.equal(jpeg.readUInt16BE(0), 0xffd8, 'thumbnail is a JPEG');

  const events = await getJson<{ events: { type: string }[] }>(`${service.url}/v1/jobs/${job.id}/events`);
  const types = events.events.map((e) => e.type);
  assert.deepEqual(
    types.filter((x) => x !== 'job:phase' && x !== 'job:status-update'),
    ['job:created', 'job:claimed', 'job:started', 'job:input-information', 'job:complete'],
  );
  assert.ok(types.includes('job:phase'));
});

test('sluice submit --wait uploads through the API and follows the job to COMPLETE; jobs and job show it', async (t) => {
  const { service } = await serve(t);
  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const env = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
  const submit = await run(
    process.execPath,
    [SLUICE_BIN, '--server', service.url, 'submit', input, '--key', 'cli/clip.mp4', '--wait'],
    { env },
  );
  const id = /^(job_\w+)\s+SUBMITTED/m.exec(submit.stdout)?.[1];
  assert.ok(id, `submit printed the job id: ${submit.stdout}`);
  assert.match(submit.stdout, /COMPLETE/);
  const jobs = await run(
    process.execPath,
    [SLUICE_BIN, '--server', service.url, 'jobs', '--status', 'complete'],
    { env },
  );
  assert.match(jobs.stdout, new RegExp(id));
  const shown = await run(process.execPath, [SLUICE_BIN, '--server', service.url, 'job', id, '--json'], {
    env,
  });
  assert.equal(JSON.parse(shown.stdout).status, 'COMPLETE');
  const missing = await run(process.execPath, [SLUICE_BIN, '--server', service.url, 'job', 'job_missing'], {
    env,
  }).catch((e) => e);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /JOB_NOT_FOUND/);
});

test('cancelling a running job stops its worker and ffmpeg; the job ends CANCELED and stays so', async (t) => {
  const { api, stop, dataDir } = await serve(t);
  const input = await clip({ width: 1280, height: 720, seconds: 30, noise: true });
  const { jobs } = await api.upload(input, 'long.mp4');
  const id = jobs[0]?.id ?? '';
  await waitFor('transcoding', async () => (await api.getJob(id)).phase === 'TRANSCODING', 60_000);
  const canceled = await api.cancel(id);
  assert.equal(canceled.status, 'CANCELED');
  // Worker and ffmpeg are gone within 2 s.
  await waitFor(
    'worker gone within 2 s',
    async () => {
      const { stdout } = await run('ps', ['-eo', 'args']);
      return !stdout.includes(`sluice-${id}`) && !stdout.includes(`--job ${id}`);
    },
    2000,
  );
  // Stopping the service waits for every worker exit to be handled and every request in flight (a dying
  // worker's late report) to be answered: after that nothing can change the job any more.
  await stop(0);
  const store = new SqliteJobStore(path.join(dataDir, 'sluice.db'));
  const after = await store.get(id);
  await store.close();
  assert.equal(after?.status, 'CANCELED');
  assert.deepEqual(after?.outputs, []);
});

test('a file that is not media ends in ERROR INPUT_UNREADABLE after one attempt, with nothing published', async (t) => {
  const { dataDir, service } = await serve(t);
  await fs.writeFile(
    path.join(dataDir, 'buckets', 'source', 'notes.mp4'),
    'this is text, not a video\n'.repeat(100),
  );
  const failed = await waitFor('ERROR', async () => {
    const { jobs } = await getJson<{ jobs: JobView[] }>(`${service.url}/jobs/ERROR`);
    return jobs[0];
  });
  assert.equal(failed.error?.code, 'INPUT_UNREADABLE');
  assert.equal(failed.attempts, 1, 'corrupt input is not retried');
  const dest = await fs.readdir(path.join(dataDir, 'buckets', 'destination'));
  assert.deepEqual(dest, []);
});

test('an attempt past the template time limit is stopped and ends in ERROR JOB_TIMEOUT, not retried', async (t) => {
  const { api } = await serve(t, {
    ladder: [{ name: '720p', height: 720, videoBitrateKbps: 2000 }],
    timeoutSeconds: 1,
  });
  const input = await clip({ width: 1280, height: 720, seconds: 30, noise: true });
  const { jobs } = await api.upload(input, 'slow.mp4');
  const id = jobs[0]?.id ?? '';
  const done = await waitFor('ERROR', async () => {
    const j = await api.getJob(id);
    return j.status !== 'SUBMITTED' && j.status !== 'PROGRESSING' && j;
  });
  assert.equal(done.status, 'ERROR');
  assert.equal(done.error?.code, 'JOB_TIMEOUT');
  assert.equal(done.attempts, 1);
  assert.deepEqual(done.outputs, []);
});
