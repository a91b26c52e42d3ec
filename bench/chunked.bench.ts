// `npm run bench:chunked`: chunked (accelerated) transcoding against the single pass, on one 60 s 1080p
// input (issue 13). A pure control plane (`sluice serve --no-local-workers`) and remote `sluice worker
// --threads 1` processes on this machine: the single pass on one worker, then the same input in 4 chunks
// on 1, 2 and 3 workers. Printed: each run's wall time (upload accepted -> COMPLETE) as a ratio to the
// single pass's, each part's time, and the critical path (the slowest encode part + the stitch) projected
// for N machines from the measured part times (a cost per encoded second, pre-roll included), for
// this input and for a 1-hour input, against the single pass scaled to the same length.
// This machine has 2 cores: 3 one-thread workers share them, so the 3-worker run is contended; the
// projection uses the 1-worker chunked run, where no part waited for a core.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { JobView } from '../src/api/job-view.ts';
import { ApiClient } from '../src/cli/api-client.ts';
import { SLUICE_BIN } from '../src/launchers/local-process-launcher.ts';
import { makeSampleClip } from '../src/media/sample-clip.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CHUNK_SECONDS = Number(process.env.BENCH_CHUNK_SECONDS ?? 16);
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,3').split(',').map(Number);
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-chunked-'));

const LADDER = [
  { name: '1080p', height: 1080, videoBitrateKbps: 5000 },
  { name: '720p', height: 720, videoBitrateKbps: 3000 },
  { name: '360p', height: 360, videoBitrateKbps: 1000 },
];
const base = { ladder: LADDER, video: { preset: 'veryfast' }, packaging: { segmentSeconds: 4 } };
const TEMPLATES = {
  single: base,
  chunked: { ...base, chunking: { enabled: true, chunkSeconds: CHUNK_SECONDS, minInputSeconds: 20 } },
};

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const cleanEnv = () => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('SLUICE_') && v !== undefined) env[k] = v;
  return env;
};

async function startServer(): Promise<{ api: ApiClient; url: string; stop: () => Promise<void> }> {
  const dataDir = path.join(root, 'data');
  await fs.mkdir(path.join(dataDir, 'templates'), { recursive: true });
  for (const [name, body] of Object.entries(TEMPLATES)) {
    await fs.writeFile(path.join(dataDir, 'templates', `${name}.json`), JSON.stringify(body));
  }
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [SLUICE_BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--no-local-workers'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...cleanEnv(), SLUICE_LOG_LEVEL: 'warn', SLUICE_SCHEDULER_INTERVAL_MS: '100' },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/v1/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    api: new ApiClient(url),
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function startWorkers(url: string, token: string, n: number): ChildProcess[] {
  return Array.from({ length: n }, () =>
    spawn(process.execPath, [SLUICE_BIN, 'worker', '--server', url, '--token', token, '--threads', '1'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...cleanEnv(), SLUICE_LOG_LEVEL: 'warn', TMPDIR: root },
    }),
  );
}

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  for (const w of workers) {
    try {
      process.kill(-(w.pid as number), 'SIGKILL');
    } catch {}
  }
  await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((r) => w.once('exit', r)) : null)));
}

interface Timed {
  wall: number;
  parts: { name: string; seconds: number; encoded: number }[];
}

const at = (s: string | null) => Date.parse(s ?? '') / 1000;

async function runOnce(
  server: Awaited<ReturnType<typeof startServer>>,
  input: string,
  template: string,
  workers: number,
  key: string,
): Promise<Timed> {
  const { token } = await server.api.createWorkerToken();
  const procs = startWorkers(server.url, token, workers);
  try {
    const job = (await server.api.upload(input, key, template)).jobs[0] as JobView;
    let done: JobView;
    for (;;) {
      done = await server.api.getJob(job.id);
      if (['COMPLETE', 'ERROR', 'CANCELED'].includes(done.status)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (done.status !== 'COMPLETE')
      throw new Error(`${key}: ${done.status} ${done.error?.code} ${done.error?.message}`);
    const res = await fetch(`${server.url}/v1/jobs/${job.id}/parts`);
    const parts = ((await res.json()) as { parts: JobView[] }).parts.map((p) => {
      const part = p.part;
      const name = part?.kind === 'chunk' ? `chunk ${part.index + 1}` : (part?.kind ?? '?');
      const encoded =
        part?.kind === 'chunk'
          ? part.range.endSeconds - part.range.encodeFromSeconds
          : part?.kind === 'audio'
            ? SECONDS
            : 0;
      return { name, seconds: at(p.finishedAt) - at(p.startedAt), encoded };
    });
    return { wall: at(done.finishedAt) - at(done.createdAt), parts };
  } finally {
    await stopWorkers(procs);
  }
}

const input = await makeSampleClip(path.join(root, 'input.mp4'), {
  width: 1920,
  height: 1080,
  seconds: SECONDS,
  fps: 30,
  noise: true,
  bitrateKbps: 8000,
});
console.log(
  `input: ${SECONDS} s 1920x1080 30 fps (testsrc2 + grain), ladder 1080p/720p/360p veryfast, 4 s segments`,
);
const server = await startServer();
try {
  const single = await runOnce(server, input, 'single', 1, 'single.mp4');
  console.log(`single pass, 1 worker x 1 thread: ${single.wall.toFixed(1)} s (baseline)`);
  const runs = new Map<number, Timed>();
  for (const n of WORKERS) {
    const r = await runOnce(server, input, 'chunked', n, `chunked-${n}.mp4`);
    runs.set(n, r);
    const parts = r.parts.map((p) => `${p.name} ${p.seconds.toFixed(1)}`).join(', ');
    console.log(
      `chunked (${CHUNK_SECONDS} s chunks), ${n} worker(s) x 1 thread: ${r.wall.toFixed(1)} s = ${(r.wall / single.wall).toFixed(2)} x single  [${parts}]`,
    );
  }
  const ref = runs.get(1) ?? [...runs.values()][0];
  if (ref) {
    const chunks = ref.parts.filter((p) => p.name.startsWith('chunk'));
    // Time per encoded second (pre-roll included), each part's fixed costs (download, probe, start,
    // upload) spread over it: too few and too alike chunk lengths here to fit a fixed cost apart.
    const b = chunks.reduce((sum, p) => sum + p.seconds, 0) / chunks.reduce((sum, p) => sum + p.encoded, 0);
    const a = 0;
    const audio = ref.parts.find((p) => p.name === 'audio')?.seconds ?? 0;
    const stitch = ref.parts.find((p) => p.name === 'stitch')?.seconds ?? 0;
    const overhead = ref.wall - ref.parts.reduce((s, p) => s + p.seconds, 0);
    console.log(
      `from the 1-worker chunked run: a chunk part takes ${b.toFixed(3)} s per encoded second (pre-roll included, its fixed costs spread over it); audio part ${audio.toFixed(1)} s, stitch ${stitch.toFixed(1)} s for ${SECONDS} s (both scaled with the length below: an upper bound for the stitch, whose work is mostly per byte); scheduling and the split ${overhead.toFixed(1)} s`,
    );
    const singlePerSecond = single.wall / SECONDS;
    for (const length of [SECONDS, 3600]) {
      const scale = length / SECONDS;
      for (const n of [3, 10, 30]) {
        // N machines, one chunk each, chunks of whole 4 s segments, at least 10 s: the critical path is the
        // slowest encode part (a chunk with its pre-roll, or the audio part) plus the stitch.
        const chunkSeconds = Math.max(12, Math.ceil(length / n / 4) * 4);
        const used = Math.min(n, Math.ceil(length / chunkSeconds));
        const slowest = Math.max(a + b * (chunkSeconds + 4), audio * scale);
        const critical = slowest + stitch * scale + overhead;
        const speedup = (singlePerSecond * length) / critical;
        console.log(
          `  projection, ${length} s input, N=${n}: ${used} chunks of ${chunkSeconds} s, critical path ${critical.toFixed(1)} s (slowest part ${slowest.toFixed(1)} + stitch ${(stitch * scale).toFixed(1)} + overhead ${overhead.toFixed(1)}), single pass ${(singlePerSecond * length).toFixed(0)} s: speed-up ${speedup.toFixed(1)}x`,
        );
      }
    }
  }
} finally {
  await server.stop();
  await fs.rm(root, { recursive: true, force: true });
}
