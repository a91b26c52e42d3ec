// `npm run chaos`: N short jobs through a real `sluice serve` while SIGKILLs hit random workers and the
// server itself (restarted each time, after a downtime of up to about the lease). Server kills wait for an
// encode to be running, so they land mid-attempt. Prints how many jobs completed exactly once, were lost,
// ended in ERROR or made duplicate outputs, and the attempts each job used: only a worker kill may cost a
// job an attempt, never a server kill. Exits non-zero otherwise. CHAOS_JOBS (default 30) and CHAOS_KILLS
// (default 12, of which 30 % and at least 2 hit the server) set the size.
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
const SERVER_KILLS = Math.min(KILLS, Math.max(2, Math.round(KILLS * 0.3)));
/** The chaos server's lease: a restart may take longer than this, which must cost no attempt either. */
const LEASE_SECONDS = 3;
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
        SLUICE_LEASE_SECONDS: String(LEASE_SECONDS),
        SLUICE_HEARTBEAT_SECONDS: '0.5',
        SLUICE_SCHEDULER_INTERVAL_MS: '200',
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

/** Running workers of this chaos server and the job each runs. */
async function workers(): Promise<{ pid: number; jobId: string }[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`--server ${api.baseUrl}`) && l.includes(' worker '))
    .map((l) => ({ pid: Number.parseInt(l.trim(), 10), jobId: /--job (\S+)/.exec(l)?.[1] ?? '' }));
}

/** Jobs in TRANSCODING now: a server kill waits (up to 30 s) for one, so it lands while an encode runs. */
async function encodesRunning(): Promise<string[]> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const { jobs } = await api.listJobs('PROGRESSING');
    const encoding = jobs.filter((j) => j.phase === 'TRANSCODING').map((j) => j.id);
    if (encoding.length > 0) return encoding;
    await sleep(50);
  }
  return [];
}

console.log(`chaos: ${JOBS} jobs, ${KILLS} kills (${SERVER_KILLS} of the server), data in ${dataDir}`);
const clip = await makeSampleClip(path.join(dataDir, 'clip.mp4'), { width: 426, height: 240, seconds: 5 });
await startServer();
const ids: string[] = [];
for (let i = 0; i < JOBS; i++) {
  const { jobs } = await api.upload(clip, `in/clip-${String(i).padStart(3, '0')}.mp4`);
  ids.push(...jobs.map((j) => j.id));
}

// The kinds of kill, shuffled: a fixed number of server kills, the rest workers.
const plan: string[] = Array.from({ length: KILLS }, (_, i) => (i < SERVER_KILLS ? 'server' : 'worker'));
for (let i = plan.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1));
  [plan[i], plan[j]] = [plan[j] as string, plan[i] as string];
}
let workerKills = 0;
let serverKills = 0;
let encodesHitByServerKills = 0;
/** Worker kills per job: each may cost its job one attempt; nothing else may. */
const killsOf = new Map<string, number>();
const started = Date.now();
/** What the chaos did when (s since the start), to read next to a job's events. */
const chaosLog: string[] = [];
const at = () => ((Date.now() - started) / 1000).toFixed(1);
const done = async () => {
  const { jobs } = await api.listJobs();
  return jobs.filter((j) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status)).length;
};
while (plan.length > 0 && Date.now() - started < 600_000) {
  await sleep(700 + Math.random() * 1500);
  if (plan[0] === 'server') {
    const encoding = await encodesRunning();
    if (encoding.length === 0) break; // nothing left to run
    current.server?.kill('SIGKILL');
    serverKills++;
    chaosLog.push(`${at()} server killed (encoding: ${encoding.join(' ')})`);
    encodesHitByServerKills += encoding.length;
    plan.shift();
    // Down for 0.3 s to a little more than the lease: a slow restart must cost no attempt either.
    await sleep(300 + Math.random() * LEASE_SECONDS * 1000);
    await startServer();
    chaosLog.push(`${at()} server up again`);
  } else {
    const running = await workers();
    const victim = running[Math.floor(Math.random() * running.length)];
    if (victim === undefined) {
      if ((await done()) === ids.length) break;
      continue;
    }
    try {
      process.kill(victim.pid, 'SIGKILL');
      workerKills++;
      killsOf.set(victim.jobId, (killsOf.get(victim.jobId) ?? 0) + 1);
      chaosLog.push(`${at()} worker of ${victim.jobId} killed`);
      plan.shift();
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
let errored = 0;
let duplicated = 0;
let attempts = 0;
/** Attempts charged beyond 1 + the worker kills its job took: what a server kill must never cause. */
let unexplained = 0;
const histogram = new Map<number, number>();
const causes = new Map<string, number>();
for (const id of ids) {
  const job = jobs.find((j) => j.id === id);
  if (job?.status === 'ERROR') {
    errored++;
    console.log(`  ERROR ${id} after ${job.attempts} attempts: ${job.error?.code} ${job.error?.message}`);
  }
  if (job?.status !== 'COMPLETE') {
    lost++;
    continue;
  }
  attempts += job.attempts;
  histogram.set(job.attempts, (histogram.get(job.attempts) ?? 0) + 1);
  const allowed = 1 + (killsOf.get(id) ?? 0);
  const { events } = (await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as {
    events: {
      type: string;
      at: string;
      data: { error?: { code: string; message: string }; reason?: string };
    }[];
  };
  if (job.attempts > allowed) {
    unexplained += job.attempts - allowed;
    console.log(`  ${id}: ${job.attempts} attempts for ${allowed - 1} worker kills`);
    for (const e of events)
      console.log(
        `    ${((Date.parse(e.at) - started) / 1000).toFixed(1)} ${e.type} ${e.data.error?.message ?? e.data.reason ?? ''}`,
      );
  }
  for (const e of events) {
    // What each charged attempt (job:retry) and each uncharged put-back (job:released) was for.
    const why =
      e.type === 'job:retry'
        ? `charged ${e.data.error?.code}: ${e.data.error?.message.replace(/^attempt \d+ failed: /, '')}`
        : e.type === 'job:released'
          ? `not charged: ${e.data.reason?.replace(/attempt \d+'s/, "an attempt's")}`
          : null;
    if (why) causes.set(why, (causes.get(why) ?? 0) + 1);
  }
  const completions = events.filter((e) => e.type === 'job:complete').length;
  if (completions === 1) once++;
  else duplicated++;
}
// Duplicate outputs: more jobs than inputs, or an input's folder holding more than one attempt's files.
const extraJobs = jobs.length - ids.length;
const staging = await fs.readdir(path.join(dataDir, 'buckets', 'destination', '.staging')).catch(() => []);
const maxAttempts = Math.max(0, ...histogram.keys());
console.log(
  `\nafter ${workerKills} worker kills and ${serverKills} server kills (${((Date.now() - started) / 1000).toFixed(0)} s):`,
);
console.log(`  server kills landed on ${encodesHitByServerKills} running encodes`);
console.log(`  jobs completed exactly once: ${once}/${ids.length}`);
console.log(`  lost: ${lost - errored}; ended in ERROR: ${errored}`);
console.log(`  duplicated (completed twice, or an extra job for one input): ${duplicated + extraJobs}`);
console.log(`  attempts used: ${attempts} for ${once} jobs; staging folders left: ${staging.length}`);
console.log(
  `  attempts per job: ${[...histogram.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([n, count]) => `${n}: ${count} job${count === 1 ? '' : 's'}`)
    .join(', ')}; max ${maxAttempts}`,
);
console.log(`  attempts charged beyond the worker kills: ${unexplained}`);
for (const [why, count] of [...causes.entries()].sort((a, b) => b[1] - a[1]))
  console.log(`    ${count} × ${why}`);
if (unexplained > 0) console.log(`  what the chaos did:\n    ${chaosLog.join('\n    ')}`);
current.server?.kill('SIGTERM');
await sleep(500);
for (const w of await workers()) process.kill(w.pid, 'SIGKILL');
await fs.rm(dataDir, { recursive: true, force: true });
// A run whose kills did not happen (the jobs ran out first) proves nothing: it fails too.
const killed = serverKills >= Math.min(SERVER_KILLS, 2) && (KILLS === SERVER_KILLS || workerKills > 0);
const ok = lost === 0 && duplicated + extraJobs === 0 && unexplained === 0 && killed;
process.exit(ok ? 0 : 1);
