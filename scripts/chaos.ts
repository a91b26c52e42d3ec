// `npm run chaos`: N short jobs through a real `sluice serve` while SIGKILLs hit random workers and the
// server itself (restarted each time). Prints how many jobs completed exactly once, were lost, or made
// duplicate outputs. CHAOS_JOBS (default 30) and CHAOS_KILLS (default 12) set the size.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../src/cli/api-client.ts';
import { SLUICE_BIN } from '../src/launchers/local-process-launcher.ts';
import { makeSampleClip } from '../src/media/sample-clip.ts';

const run = promisify(execFile);
const JOBS = Number(process.env.CHAOS_JOBS ?? 30);
const KILLS = Number(process.env.CHAOS_KILLS ?? 12);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-chaos-'));
await fs.mkdir(path.join(dataDir, 'templates'));
await fs.writeFile(
  path.join(dataDir, 'templates', 'chaos.json'),
  JSON.stringify({
    ladder: [
      { name: '240p', height: 240, videoBitrateKbps: 400 },
      { name: '180p', height: 180, videoBitrateKbps: 200 },
    ],
    video: { preset: 'ultrafast' },
    packaging: { segmentSeconds: 1 },
    maxAttempts: 20,
  }),
);
const port = await new Promise<number>((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (srv.address() as net.AddressInfo).port;
    srv.close(() => resolve(p));
  });
});
const api = new ApiClient(`http://127.0.0.1:${port}`);

const current: { server: ChildProcess | null } = { server: null };
async function startServer(): Promise<void> {
  current.server = spawn(
    process.execPath,
    [SLUICE_BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--concurrency', '2'],
    {
      stdio: 'ignore',
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'silent',
        SLUICE_DEFAULT_TEMPLATE: 'chaos',
        SLUICE_LEASE_SECONDS: '3',
        SLUICE_HEARTBEAT_SECONDS: '0.5',
        SLUICE_SCHEDULER_INTERVAL_MS: '200',
        SLUICE_POLL_MS: '200',
        SLUICE_SETTLE_MS: '300',
      },
    },
  );
  for (;;) {
    if (
      await fetch(`${api.baseUrl}/v1/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
}

async function workerPids(): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`--server ${api.baseUrl}`) && l.includes(' worker '))
    .map((l) => Number.parseInt(l.trim(), 10));
}

console.log(`chaos: ${JOBS} jobs, ${KILLS} kills, data in ${dataDir}`);
const clip = await makeSampleClip(path.join(dataDir, 'clip.mp4'), { width: 426, height: 240, seconds: 3 });
await startServer();
const ids: string[] = [];
for (let i = 0; i < JOBS; i++) {
  const { jobs } = await api.upload(clip, `in/clip-${String(i).padStart(3, '0')}.mp4`);
  ids.push(...jobs.map((j) => j.id));
}

let workerKills = 0;
let serverKills = 0;
const started = Date.now();
const done = async () => {
  const { jobs } = await api.listJobs();
  return jobs.filter((j) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status)).length;
};
while (workerKills + serverKills < KILLS && Date.now() - started < 600_000) {
  await sleep(700 + Math.random() * 1500);
  if (Math.random() < 0.3) {
    current.server?.kill('SIGKILL');
    serverKills++;
    await sleep(300);
    await startServer();
  } else {
    const pids = await workerPids();
    const pid = pids[Math.floor(Math.random() * pids.length)];
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGKILL');
      workerKills++;
    } catch {
      // it finished first
    }
  }
  console.log(
    `  kills: ${workerKills} workers, ${serverKills} server; finished jobs: ${await done()}/${ids.length}`,
  );
}
while ((await done()) < ids.length && Date.now() - started < 900_000) await sleep(500);

const { jobs } = await api.listJobs();
let once = 0;
let lost = 0;
let duplicated = 0;
let attempts = 0;
for (const id of ids) {
  const job = jobs.find((j) => j.id === id);
  if (job?.status !== 'COMPLETE') {
    lost++;
    continue;
  }
  attempts += job.attempts;
  const { events } = (await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as {
    events: { type: string }[];
  };
  const completions = events.filter((e) => e.type === 'job:complete').length;
  if (completions === 1) once++;
  else duplicated++;
}
// Duplicate outputs: more jobs than inputs, or an input's folder holding more than one attempt's files.
const extraJobs = jobs.length - ids.length;
const staging = await fs.readdir(path.join(dataDir, 'buckets', 'destination', '.staging')).catch(() => []);
console.log(
  `\nafter ${workerKills} worker kills and ${serverKills} server kills (${((Date.now() - started) / 1000).toFixed(0)} s):`,
);
console.log(`  jobs completed exactly once: ${once}/${ids.length}`);
console.log(`  lost: ${lost}`);
console.log(`  duplicated (completed twice, or an extra job for one input): ${duplicated + extraJobs}`);
console.log(`  attempts used: ${attempts} for ${once} jobs; staging folders left: ${staging.length}`);
current.server?.kill('SIGTERM');
await sleep(500);
for (const pid of await workerPids()) process.kill(pid, 'SIGKILL');
await fs.rm(dataDir, { recursive: true, force: true });
process.exit(lost + duplicated + extraJobs === 0 && workerKills + serverKills >= Math.min(KILLS, 10) ? 0 : 1);
