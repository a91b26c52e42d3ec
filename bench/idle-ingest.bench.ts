// `npm run bench:idle-ingest`: what watching the source bucket costs. A real `sluice serve` child is
// measured for control-plane CPU over IDLE_SECONDS (default 60) of idle, with an empty source and with
// FILES (default 10,000) unrelated files in it, read from /proc/<pid>/stat (utime + stime of the server
// and its descendants); then LANDINGS (default 100) .mp4 files are dropped one at a time (renamed in
// whole) and the time from each landing to its job's createdAt (SUBMITTED) is taken, p50 and p90.
// Local workers take nothing (SLUICE_LOCAL_POOLS=local=0), so no ffmpeg runs during the measurement.
//
// The baseline, measured in the same run on the same machine: the code of BASELINE_REF (default
// 6b51e03, the 500 ms polling BucketWatcher) checked out as a git worktree in a temp folder, sharing
// this tree's node_modules. BASELINE=0 skips it. Printed next to the figures of the issue (46% of a
// core with 10,000 files, 1.2% empty; about 2 s to SUBMITTED).
//
// The store is a kind (STORE, default `local`): a kind makes the data directory's source bucket and
// drops objects into it; an S3 kind (s3rver) can be added next to `local` below.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../test/real-server.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const FILES = Number(process.env.FILES ?? 10_000);
const LANDINGS = Number(process.env.LANDINGS ?? 100);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1000);
const BASELINE_REF = process.env.BASELINE_REF ?? '6b51e03';
const WITH_BASELINE = process.env.BASELINE !== '0';
const STORE = process.env.STORE ?? 'local';
const CLK_TCK = 100;

/** Where objects live for a run, and how the bench puts them there. */
interface StoreKind {
  name: string;
  /** Environment for `sluice serve` (credentials, endpoint) on top of the bench's own. */
  env(dataDir: string): Promise<NodeJS.ProcessEnv>;
  /** Writes `count` unrelated objects into the source bucket (before the server starts). */
  fill(dataDir: string, count: number): Promise<void>;
  /** Makes one object appear whole in the source bucket; returns when it is visible. */
  land(dataDir: string, key: string, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

const localStore: StoreKind = {
  name: 'local',
  async env() {
    return {};
  },
  async fill(dataDir, count) {
    const source = path.join(dataDir, 'buckets', 'source');
    // 100 folders of 100: a realistic tree, and both watchers walk folders.
    for (let d = 0; d < Math.ceil(count / 100); d++) {
      const dir = path.join(source, 'archive', `d${String(d).padStart(3, '0')}`);
      await fs.mkdir(dir, { recursive: true });
      const n = Math.min(100, count - d * 100);
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          fs.writeFile(path.join(dir, `notes-${i}.txt`), `unrelated ${d}/${i}`),
        ),
      );
    }
  },
  async land(dataDir, key, body) {
    const tmp = path.join(dataDir, `landing-${process.pid}.tmp`);
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, path.join(dataDir, 'buckets', 'source', key));
  },
  async close() {},
};

function storeKind(name: string): StoreKind {
  if (name === 'local') return localStore;
  throw new Error(`STORE=${name}: no such store kind in this bench yet (local); add one next to localStore`);
}

/** utime + stime (seconds) of a process and all its descendants. */
async function cpuSeconds(rootPid: number): Promise<number> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (!text) continue;
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state ppid ... utime is field 14 overall, i.e. index 11 here; stime 12.
    stats.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }
  let ticks = 0;
  const todo = [rootPid];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) todo.push(child);
  }
  return ticks / CLK_TCK;
}

interface Server {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

async function startServe(bin: string, dataDir: string, extraEnv: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin, 'serve', '--data-dir', dataDir, '--port', String(port)], {
    stdio: 'ignore',
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_'))),
      SLUICE_LOG_LEVEL: 'warn',
      SLUICE_SETTLE_MS: String(SETTLE_MS),
      SLUICE_LOCAL_POOLS: 'local=0',
      SLUICE_DEFAULT_TEMPLATE: 'mp4-h264-aac',
      ...extraEnv,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${url}/v1/health`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null) throw new Error(`sluice serve (${bin}) exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('sluice serve did not come up');
    await sleep(100);
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid as number,
    url,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Waits until the server's start-up work (a first pass over the files) has been calm for 10 s, at most capMs. */
async function settleDown(pid: number, capMs: number): Promise<void> {
  const end = Date.now() + capMs;
  let calm = 0;
  while (Date.now() < end && calm < 10) {
    const a = await cpuSeconds(pid);
    await sleep(1000);
    calm = (await cpuSeconds(pid)) - a < 0.03 ? calm + 1 : 0;
  }
}

async function idleCpu(pid: number): Promise<number> {
  const a = await cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const b = await cpuSeconds(pid);
  return (b - a) / ((performance.now() - t0) / 1000);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function landings(kind: StoreKind, dataDir: string, url: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LANDINGS; i++) {
    const key = `landing-${String(i).padStart(3, '0')}.mp4`;
    const t0 = Date.now();
    await kind.land(dataDir, key, Buffer.from(`not really a video ${i}`));
    for (;;) {
      const r = (await fetch(`${url}/v1/jobs?status=SUBMITTED&limit=5`).then((x) => x.json())) as {
        jobs: { input: { key: string }; createdAt: string }[];
      };
      const job = r.jobs.find((j) => j.input.key === key);
      if (job) {
        out.push(Date.parse(job.createdAt) - t0);
        break;
      }
      if (Date.now() - t0 > 120_000) throw new Error(`${key}: no job after 120 s`);
      await sleep(20);
    }
  }
  return out;
}

interface Figures {
  idleEmpty: number;
  idleFull: number;
  p50: number;
  p90: number;
}

async function measure(label: string, bin: string, kind: StoreKind): Promise<Figures> {
  const one = async (files: number) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-idle-'));
    await fs.mkdir(path.join(dataDir, 'buckets', 'source'), { recursive: true });
    if (files > 0) await kind.fill(dataDir, files);
    const server = await startServe(bin, dataDir, await kind.env(dataDir));
    try {
      await settleDown(server.pid, SETTLE_MS + 30_000);
      const cpu = await idleCpu(server.pid);
      process.stdout.write(`  ${label}: idle with ${files} files: ${(cpu * 100).toFixed(2)}% of a core\n`);
      return { dataDir, server, cpu };
    } catch (err) {
      await server.stop();
      throw err;
    }
  };
  const empty = await one(0);
  await empty.server.stop();
  await fs.rm(empty.dataDir, { recursive: true, force: true });
  const full = await one(FILES);
  try {
    const times = await landings(kind, full.dataDir, full.server.url);
    const figures = { idleEmpty: empty.cpu, idleFull: full.cpu, p50: pct(times, 50), p90: pct(times, 90) };
    process.stdout.write(
      `  ${label}: landing -> SUBMITTED with ${FILES} files present: p50 ${figures.p50} ms, p90 ${figures.p90} ms (settle ${SETTLE_MS} ms)\n`,
    );
    return figures;
  } finally {
    await full.server.stop();
    await fs.rm(full.dataDir, { recursive: true, force: true });
  }
}

async function baselineTree(): Promise<{ bin: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-baseline-'));
  await run('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, BASELINE_REF]);
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    bin: path.join(dir, 'bin', 'sluice.js'),
    async remove() {
      await run('git', ['-C', ROOT, 'worktree', 'remove', '--force', dir]).catch(() => {});
      if (existsSync(dir)) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

const kind = storeKind(STORE);
process.stdout.write(
  `idle-ingest on ${kind.name}: ${IDLE_SECONDS} s idle, ${FILES} files, ${LANDINGS} landings, settle ${SETTLE_MS} ms, ${os.cpus().length} cores\n`,
);
try {
  const current = await measure('this tree', path.join(ROOT, 'bin', 'sluice.js'), kind);
  let base: Figures | null = null;
  if (WITH_BASELINE) {
    const tree = await baselineTree();
    try {
      base = await measure(`baseline ${BASELINE_REF}`, tree.bin, kind);
    } finally {
      await tree.remove();
    }
  }
  const row = (what: string, now: string, then: string, issue: string, ratio: string) =>
    `${what.padEnd(34)}${now.padStart(12)}${then.padStart(14)}${issue.padStart(16)}${ratio.padStart(10)}\n`;
  const pc = (x: number) => `${(x * 100).toFixed(2)}%`;
  const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(3)}x` : '-');
  process.stdout.write(`\n${row('', 'this tree', `base ${BASELINE_REF}`, 'issue 10 (main)', 'ratio')}`);
  process.stdout.write(
    row(
      'idle CPU, empty source',
      pc(current.idleEmpty),
      base ? pc(base.idleEmpty) : '-',
      '1.2%',
      ratio(current.idleEmpty, base?.idleEmpty),
    ),
  );
  process.stdout.write(
    row(
      `idle CPU, ${FILES} files`,
      pc(current.idleFull),
      base ? pc(base.idleFull) : '-',
      '46%',
      ratio(current.idleFull, base?.idleFull),
    ),
  );
  process.stdout.write(
    row(
      'landing -> SUBMITTED p50',
      `${current.p50} ms`,
      base ? `${base.p50} ms` : '-',
      'about 2 s',
      ratio(current.p50, base?.p50),
    ),
  );
  process.stdout.write(
    row(
      'landing -> SUBMITTED p90',
      `${current.p90} ms`,
      base ? `${base.p90} ms` : '-',
      '',
      ratio(current.p90, base?.p90),
    ),
  );
} finally {
  await kind.close();
}
