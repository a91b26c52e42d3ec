// `npm run bench`: Sluice's job wall time on a 20 s 1080p clip, as ratios against baselines measured in
// the same run: (a) the best hand-written single ffmpeg command producing the same outputs, and (b) three
// sequential per-rendition ffmpeg runs (the naive recipe). Median of BENCH_RUNS runs (default 3), with
// the order rotated each round so no contender always runs on a warm or cold machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ApiClient } from '../src/cli/api-client.ts';
import { loadConfig } from '../src/config/config.ts';
import { findFfmpeg } from '../src/media/ffmpeg-binaries.ts';
import { makeSampleClip } from '../src/media/sample-clip.ts';
import { startService } from '../src/service.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-'));
const { ffmpeg, version } = await findFfmpeg();

function ffmpegRun(args: string[]): void {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${args.join(' ')}`);
}

async function fresh(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

const LADDER = [
  { h: 1080, w: 1920, kbps: 5000 },
  { h: 720, w: 1280, kbps: 3000 },
  { h: 360, w: 640, kbps: 1000 },
];
const x264 = [
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-profile:v',
  'high',
  '-force_key_frames',
  'expr:gte(t,n_forced*4)',
  '-sc_threshold',
  '0',
];
const aac = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000'];
const dashOpts = (sets: string) => [
  '-f',
  'dash',
  '-seg_duration',
  '4',
  '-use_template',
  '1',
  '-use_timeline',
  '0',
  '-hls_playlist',
  '1',
  '-adaptation_sets',
  sets,
];

const SPRITES = 'fps=1/2,scale=160:90,tile=10x10';

/** (a) One hand-written command: one decode, split, tee to DASH+HLS and MP4, plus poster and sprites. */
async function singleCommand(input: string): Promise<void> {
  const out = await fresh('single');
  const split = `[0:v]split=5[a][b][c][t][s];[a]scale=1920:1080[v0];[b]scale=1280:720[v1];[c]scale=640:360[v2];[t]trim=start=${SECONDS / 10},setpts=PTS-STARTPTS,scale=640:360[th];[s]${SPRITES}[sp]`;
  const maps = LADDER.flatMap((r, i) => [
    '-map',
    `[v${i}]`,
    `-b:v:${i}`,
    `${r.kbps}k`,
    `-maxrate:v:${i}`,
    `${r.kbps * 1.2}k`,
    `-bufsize:v:${i}`,
    `${r.kbps * 2.4}k`,
  ]);
  ffmpegRun([
    '-i',
    input,
    '-filter_complex',
    split,
    ...maps,
    ...x264,
    '-map',
    '0:a',
    ...aac,
    '-flags',
    '+global_header',
    '-f',
    'tee',
    `[f=dash:seg_duration=4:use_template=1:use_timeline=0:hls_playlist=1:adaptation_sets=id\\=0\\,streams\\=v id\\=1\\,streams\\=a]${out}/manifest.mpd|[f=mp4:movflags=+faststart:select=\\'v:0,a\\']${out}/out.mp4`,
    '-map',
    '[th]',
    '-frames:v',
    '1',
    '-update',
    '1',
    `${out}/poster.jpg`,
    '-map',
    '[sp]',
    `${out}/sprite-%03d.jpg`,
  ]);
}

/** (b) The naive recipe: one ffmpeg per rendition, each decoding the input again. */
async function perRendition(input: string): Promise<void> {
  for (const [i, r] of LADDER.entries()) {
    const out = await fresh(`per-${i}`);
    ffmpegRun([
      '-i',
      input,
      '-map',
      '0:v',
      '-map',
      '0:a',
      '-vf',
      `scale=${r.w}:${r.h}`,
      '-b:v',
      `${r.kbps}k`,
      '-maxrate',
      `${r.kbps * 1.2}k`,
      '-bufsize',
      `${r.kbps * 2.4}k`,
      ...x264,
      ...aac,
      ...dashOpts('id=0,streams=v id=1,streams=a'),
      `${out}/manifest.mpd`,
    ]);
    if (i === 0) {
      ffmpegRun([
        '-i',
        input,
        '-vf',
        `scale=${r.w}:${r.h}`,
        '-b:v',
        `${r.kbps}k`,
        ...x264,
        ...aac,
        '-movflags',
        '+faststart',
        `${out}/out.mp4`,
      ]);
      ffmpegRun([
        '-ss',
        String(SECONDS / 10),
        '-i',
        input,
        '-vf',
        'scale=640:360',
        '-frames:v',
        '1',
        '-update',
        '1',
        `${out}/poster.jpg`,
      ]);
      ffmpegRun(['-i', input, '-vf', SPRITES, `${out}/sprite-%03d.jpg`]);
    }
  }
}

/**
 * Sluice: the whole job path (ingest, schedule, worker process start, probe, encode, publish), timed
 * from the job's creation to its completion as the job record states them. The upload through the API
 * comes before the job exists and is reported on its own line.
 */
async function sluiceJob(input: string, round: number): Promise<number> {
  const dataDir = await fresh(`sluice-${round}`);
  const config = loadConfig({ dataDir, port: 0, logLevel: 'silent', concurrency: 1 }, {});
  const service = await startService(config, pino({ level: 'silent' }));
  try {
    const api = new ApiClient(service.url);
    const uploadStart = performance.now();
    const { jobs } = await api.upload(input, 'bench.mp4');
    uploadSeconds.push((performance.now() - uploadStart) / 1000);
    const id = jobs[0]?.id ?? '';
    for (;;) {
      const job = await api.getJob(id);
      if (job.status === 'COMPLETE') {
        const events = (await (await fetch(`${service.url}/v1/jobs/${id}/events`)).json()) as {
          events: { at: string; type: string; data: { phase?: string } }[];
        };
        const at = (pred: (e: { type: string; data: { phase?: string } }) => boolean) =>
          Date.parse(events.events.find(pred)?.at ?? '');
        const created = Date.parse(job.createdAt);
        const started = at((e) => e.type === 'job:started');
        const transcoding = at((e) => e.data.phase === 'TRANSCODING');
        const uploading = at((e) => e.data.phase === 'UPLOADING');
        const done = Date.parse(job.finishedAt ?? '');
        phases.push({
          launch: (started - created) / 1000,
          probe: (transcoding - started) / 1000,
          transcode: (uploading - transcoding) / 1000,
          publish: (done - uploading) / 1000,
        });
        return (done - created) / 1000;
      }
      if (job.status === 'ERROR' || job.status === 'CANCELED')
        throw new Error(`job ${job.status}: ${job.error?.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await service.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const input = path.join(root, 'input-1080p.mp4');
console.log(
  `${version}; ${os.availableParallelism()} cores; ${SECONDS} s 1920x1080 30 fps lavfi clip with noise; ${RUNS} runs`,
);
// Grain makes the encoders work as on camera footage; 20 Mbit/s is a typical 1080p upload.
await makeSampleClip(input, {
  width: 1920,
  height: 1080,
  seconds: SECONDS,
  fps: 30,
  noise: true,
  bitrateKbps: 20_000,
});

const uploadSeconds: number[] = [];
const phases: Record<string, number>[] = [];
const contenders: Record<string, (round: number) => Promise<number | undefined>> = {
  sluice: (round) => sluiceJob(input, round),
  single: async () => {
    await singleCommand(input);
    return undefined;
  },
  perRendition: async () => {
    await perRendition(input);
    return undefined;
  },
};
const times: Record<string, number[]> = { sluice: [], single: [], perRendition: [] };
const names = Object.keys(contenders);
for (let round = 0; round < RUNS; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(round + k) % names.length] as string;
    const start = performance.now();
    const own = await contenders[name]?.(round);
    const s = own ?? (performance.now() - start) / 1000;
    times[name]?.push(s);
    console.log(`  round ${round + 1}: ${name.padEnd(12)} ${s.toFixed(2)} s`);
  }
}
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<string, number>;
console.log(
  `\nmedian wall time: sluice ${m.sluice?.toFixed(2)} s, single command ${m.single?.toFixed(2)} s, per-rendition ${m.perRendition?.toFixed(2)} s`,
);
const phase = (k: string) => median(phases.map((p) => p[k] ?? 0)).toFixed(2);
console.log(
  `sluice job phases (median s): launch ${phase('launch')}, probe ${phase('probe')}, transcode ${phase('transcode')}, publish ${phase('publish')}; the upload through the API, before the job exists: ${median(uploadSeconds).toFixed(2)} s`,
);
console.log(
  `(a) sluice / best single ffmpeg command      = ${((m.sluice ?? 0) / (m.single ?? 1)).toFixed(3)}  (target <= 1.10)`,
);
console.log(
  `(b) sluice / three per-rendition ffmpeg runs = ${((m.sluice ?? 0) / (m.perRendition ?? 1)).toFixed(3)}  (target < 1)`,
);
await fs.rm(root, { recursive: true, force: true });
