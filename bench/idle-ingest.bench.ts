// `npm run bench:idle-ingest`: what watching the source bucket costs. A real `sluice serve` child is
// measured for control-plane CPU over IDLE_SECONDS (default 60) of idle, with an empty source and with
// FILES (default 10,000) unrelated objects in it, read from /proc/<pid>/stat (utime + stime of the server
// and its descendants); then LANDINGS (default 100) .mp4 objects land one at a time and the time from
// each landing to its job's createdAt (SUBMITTED) is taken, p50 and p90. Local workers take nothing
// (SLUICE_LOCAL_POOLS=local=0), so no ffmpeg runs during the measurement.
//
// Store kinds (STORES, default `local,s3`; STORE=x is the same as STORES=x), each measured against its
// own baseline in the same run, on the same machine:
//
// - local: folders under the data directory; a file lands renamed in whole. Baseline: the code of
//   BASELINE_REF (default 6b51e03, the 500 ms polling BucketWatcher) checked out as a git worktree in a
//   temp folder sharing this tree's node_modules. Printed next to the figures of the issue (46% of a core
//   with 10,000 files, 1.2% empty; about 2 s to SUBMITTED).
// - s3: SLUICE_STORAGE=s3 against s3rver, a real S3-protocol server on loopback (test/s3rver.ts: a child
//   process, with a proxy that logs every request the server makes), a fresh one per server run. Objects
//   are put with the AWS SDK (straight at s3rver, past the proxy, so the proxy's log is the server's
//   requests alone). An .mp4 lands as a PutObject, then its S3 event notification (`Records[]`) is posted
//   to POST /v1/ingest/events; the time is taken from the PutObject's completion. The control plane
//   lists the bucket only at start and every SLUICE_RECONCILE_SECONDS (300 s): the proxy's log counts
//   its requests during the idle window. The old code cannot run on S3 (it had no S3 store), so the
//   in-run baseline is this tree polling: SLUICE_RECONCILE_SECONDS=0.5 and no notifications (objects
//   found by the listing alone), the listing frequency of the old 500 ms watcher; next to it, the old
//   design's listing rate on this bucket, computed (not measured): pages per listing x 2 per second.
//
// BASELINE=0 skips the baselines. Before each idle window the bench waits for the server's start-up pass
// (the first reconcile over the objects and their settle checks) to be over: 10 calm seconds (CPU under
// 3% of a core and, on S3, no request but listings at the proxy), at most a cap.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3Record } from '../test/ingest/notification-samples.ts';
import { freePort } from '../test/real-server.ts';
import { type S3Server, startS3rver } from '../test/s3rver.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const FILES = Number(process.env.FILES ?? 10_000);
const LANDINGS = Number(process.env.LANDINGS ?? 100);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 1000);
const BASELINE_REF = process.env.BASELINE_REF ?? '6b51e03';
const WITH_BASELINE = process.env.BASELINE !== '0';
const STORES = (process.env.STORES ?? process.env.STORE ?? 'local,s3').split(',').filter(Boolean);
/** The polling stand-in's reconcile interval on S3: the old watcher's 500 ms. */
const POLL_SECONDS = 0.5;
/** ListObjectsV2's page size (S3's and s3rver's default MaxKeys). */
const LIST_PAGE = 1000;
const INGEST_TOKEN = 'bench-idle-ingest-token-0123456789';
const PUT_CONCURRENCY = 32;
const CLK_TCK = 100;

/** What the store saw during a window (S3: the requests the server made, from the proxy's log). */
interface StoreActivity {
  requests: number;
  lists: number;
  /** CPU (seconds) of the store's own process, when it has one. */
  cpu: number | null;
}

/** One server run's objects: a data directory's folders, or a fresh s3rver. */
interface StoreRun {
  /** Environment for `sluice serve` (credentials, endpoint) on top of the bench's own. */
  env: NodeJS.ProcessEnv;
  /** Writes `count` unrelated objects into the source bucket (before the server starts). */
  fill(count: number): Promise<void>;
  /**
   * Makes one object appear whole in the source bucket (and, where the kind notifies, tells the
   * server); returns the time (ms since the epoch) from which its SUBMITTED is measured.
   */
  land(key: string, body: Buffer, serverUrl: string): Promise<number>;
  /** A mark of the store's activity so far; `since(mark)` is what happened after it. */
  mark(): Promise<() => Promise<StoreActivity | null>>;
  /** Whether the store got any request but a listing in the last `ms` (start-up work still going). */
  busy(ms: number): boolean;
  close(): Promise<void>;
}

/** Where objects live for a run, and how the bench puts them there. */
interface StoreKind {
  name: string;
  /** The longest wait for the start-up pass to be over (beyond SETTLE_MS): a poller is never calm. */
  startupCapMs: number;
  /** `notify`: land with a notification (S3 event) where the kind has them; else the watch finds it. */
  open(dataDir: string, o: { notify: boolean }): Promise<StoreRun>;
}

const localStore: StoreKind = {
  name: 'local',
  startupCapMs: 30_000,
  async open(dataDir) {
    const source = path.join(dataDir, 'buckets', 'source');
    await fs.mkdir(source, { recursive: true });
    return {
      env: {},
      async fill(count) {
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
      async land(key, body) {
        const t0 = Date.now();
        const tmp = path.join(dataDir, `landing-${process.pid}.tmp`);
        await fs.writeFile(tmp, body);
        await fs.rename(tmp, path.join(source, key));
        return t0;
      },
      async mark() {
        return async () => null;
      },
      busy: () => false,
      async close() {},
    };
  },
};

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const s3Store: StoreKind = {
  name: 's3',
  // The first pass settles each of the 10,000 objects with a HEAD through s3rver: over a minute.
  startupCapMs: 120_000,
  async open(_dataDir, { notify }) {
    const afters: (() => Promise<void>)[] = [];
    const s3 = await startS3rver({ after: (fn) => afters.push(fn) });
    const client = new S3Client({
      endpoint: s3.directEndpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: s3.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const stamps: number[] = []; // performance.now() of each proxied request, in the log's order
    const isList = (r: S3Server['requests'][number]) =>
      r.method === 'GET' && /^\/source\/?(\?|$)/.test(r.path);
    let sequencer = 0;
    return {
      env: {
        SLUICE_STORAGE: 's3',
        SLUICE_S3_ENDPOINT: s3.endpoint,
        SLUICE_S3_REGION: 'us-east-1',
        SLUICE_S3_FORCE_PATH_STYLE: 'true',
        SLUICE_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        SLUICE_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        SLUICE_INGEST_TOKEN: INGEST_TOKEN,
      },
      async fill(count) {
        const keys = Array.from(
          { length: count },
          (_, i) => `archive/d${String(Math.floor(i / 100)).padStart(3, '0')}/notes-${i % 100}.txt`,
        );
        await pool(keys, PUT_CONCURRENCY, async (key) => {
          await client.send(new PutObjectCommand({ Bucket: 'source', Key: key, Body: `unrelated ${key}` }));
        });
      },
      async land(key, body, serverUrl) {
        const put = await client.send(
          new PutObjectCommand({ Bucket: 'source', Key: key, Body: body, ContentType: 'video/mp4' }),
        );
        const t0 = Date.now();
        if (!notify) return t0;
        sequencer++;
        const r = await fetch(`${serverUrl}/v1/ingest/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_TOKEN}` },
          body: JSON.stringify({
            Records: [
              s3Record({
                key,
                etag: put.ETag,
                size: body.length,
                sequencer: sequencer.toString(16).toUpperCase().padStart(18, '0'),
              }),
            ],
          }),
        });
        const summary = (await r.json()) as { created?: number };
        if (r.status !== 200 || summary.created !== 1)
          throw new Error(`${key}: the notification made no job: ${r.status} ${JSON.stringify(summary)}`);
        return t0;
      },
      async mark() {
        const from = s3.requests.length;
        const cpu0 = await cpuSeconds(s3.pid);
        return async () => {
          const window = s3.requests.slice(from);
          return {
            requests: window.length,
            lists: window.filter(isList).length,
            cpu: (await cpuSeconds(s3.pid)) - cpu0,
          };
        };
      },
      busy(ms) {
        while (stamps.length < s3.requests.length) stamps.push(performance.now());
        const since = performance.now() - ms;
        for (let i = s3.requests.length - 1; i >= 0 && (stamps[i] as number) >= since; i--)
          if (!isList(s3.requests[i] as S3Server['requests'][number])) return true;
        return false;
      },
      async close() {
        client.destroy();
        for (const fn of afters.reverse()) await fn();
      },
    };
  },
};

function storeKind(name: string): StoreKind {
  const kind = [localStore, s3Store].find((k) => k.name === name);
  if (!kind) throw new Error(`STORES=${name}: no such store kind in this bench (local, s3)`);
  return kind;
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

/**
 * Waits until the server's start-up work (the first pass over the objects) has been calm for 10 s, at
 * most capMs: CPU under 3% of a core (unless `polling`: a poller is never calm) and the store asked for
 * nothing but listings.
 */
async function settleDown(pid: number, store: StoreRun, capMs: number, polling: boolean): Promise<number> {
  const t0 = Date.now();
  const end = t0 + capMs;
  let calm = 0;
  while (Date.now() < end && calm < 10) {
    const a = await cpuSeconds(pid);
    await sleep(1000);
    const quiet = (polling || (await cpuSeconds(pid)) - a < 0.03) && !store.busy(1000);
    calm = quiet ? calm + 1 : 0;
  }
  return (Date.now() - t0) / 1000;
}

interface Idle {
  cpu: number;
  seconds: number;
  store: StoreActivity | null;
}

async function idleWindow(pid: number, store: StoreRun): Promise<Idle> {
  const since = await store.mark();
  const a = await cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const b = await cpuSeconds(pid);
  const seconds = (performance.now() - t0) / 1000;
  return { cpu: (b - a) / seconds, seconds, store: await since() };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function landings(store: StoreRun, url: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LANDINGS; i++) {
    const key = `landing-${String(i).padStart(3, '0')}.mp4`;
    const t0 = await store.land(key, Buffer.from(`not really a video ${i}`), url);
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

/** One configuration to measure: a tree, a store kind, settings. */
interface Setup {
  label: string;
  bin: string;
  kind: StoreKind;
  env?: NodeJS.ProcessEnv;
  /** Lands with notifications (S3 events); false: the watch's listing finds the objects. */
  notify: boolean;
  /** The reconcile lists every POLL_SECONDS: CPU is never calm, wait for the store alone. */
  polling?: boolean;
}

interface Figures {
  empty: Idle;
  full: Idle;
  p50: number;
  p90: number;
}

function describe(label: string, files: number, idle: Idle, waited: number): string {
  const s = idle.store;
  const store = s
    ? `; store: ${s.requests} requests (${s.lists} LIST, ${(s.lists / idle.seconds).toFixed(2)}/s), store CPU ${(((s.cpu ?? 0) / idle.seconds) * 100).toFixed(2)}%`
    : '';
  return `  ${label}: idle with ${files} objects: ${(idle.cpu * 100).toFixed(2)}% of a core${store} (after ${waited.toFixed(0)} s of start-up)\n`;
}

async function measure(setup: Setup): Promise<Figures> {
  const one = async (files: number) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-idle-'));
    const store = await setup.kind.open(dataDir, { notify: setup.notify });
    let server: Server | null = null;
    try {
      if (files > 0) await store.fill(files);
      server = await startServe(setup.bin, dataDir, { ...store.env, ...setup.env });
      const waited = await settleDown(
        server.pid,
        store,
        SETTLE_MS + setup.kind.startupCapMs,
        setup.polling === true,
      );
      const idle = await idleWindow(server.pid, store);
      process.stdout.write(describe(setup.label, files, idle, waited));
      return { dataDir, store, server, idle };
    } catch (err) {
      await server?.stop();
      await store.close();
      throw err;
    }
  };
  const done = async (r: { dataDir: string; store: StoreRun; server: Server }) => {
    await r.server.stop();
    await r.store.close();
    await fs.rm(r.dataDir, { recursive: true, force: true });
  };
  const empty = await one(0);
  await done(empty);
  const full = await one(FILES);
  try {
    const times = await landings(full.store, full.server.url);
    const figures = { empty: empty.idle, full: full.idle, p50: pct(times, 50), p90: pct(times, 90) };
    process.stdout.write(
      `  ${setup.label}: landing -> SUBMITTED with ${FILES} objects present: p50 ${figures.p50} ms, p90 ${figures.p90} ms (settle ${SETTLE_MS} ms)\n`,
    );
    return figures;
  } finally {
    await done(full);
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

const pc = (x: number) => `${(x * 100).toFixed(2)}%`;
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(3)}x` : '-');
const loadavg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function benchLocal(current: Setup): Promise<void> {
  const now = await measure(current);
  let base: Figures | null = null;
  if (WITH_BASELINE) {
    const tree = await baselineTree();
    try {
      base = await measure({ ...current, label: `baseline ${BASELINE_REF}`, bin: tree.bin });
    } finally {
      await tree.remove();
    }
  }
  const row = (what: string, a: string, b: string, issue: string, r: string) =>
    `${what.padEnd(34)}${a.padStart(12)}${b.padStart(14)}${issue.padStart(16)}${r.padStart(10)}\n`;
  let out = `\nlocal (load average ${loadavg()})\n${row('', 'this tree', `base ${BASELINE_REF}`, 'issue 10 (main)', 'ratio')}`;
  out += row(
    'idle CPU, empty source',
    pc(now.empty.cpu),
    base ? pc(base.empty.cpu) : '-',
    '1.2%',
    ratio(now.empty.cpu, base?.empty.cpu),
  );
  out += row(
    `idle CPU, ${FILES} files`,
    pc(now.full.cpu),
    base ? pc(base.full.cpu) : '-',
    '46%',
    ratio(now.full.cpu, base?.full.cpu),
  );
  out += row(
    'landing -> SUBMITTED p50',
    `${now.p50} ms`,
    base ? `${base.p50} ms` : '-',
    'about 2 s',
    ratio(now.p50, base?.p50),
  );
  out += row(
    'landing -> SUBMITTED p90',
    `${now.p90} ms`,
    base ? `${base.p90} ms` : '-',
    '',
    ratio(now.p90, base?.p90),
  );
  process.stdout.write(`${out}\n`);
}

async function benchS3(current: Setup): Promise<void> {
  const now = await measure(current);
  const poll = WITH_BASELINE
    ? await measure({
        ...current,
        label: `s3: this tree polling (SLUICE_RECONCILE_SECONDS=${POLL_SECONDS}, no events)`,
        env: { SLUICE_RECONCILE_SECONDS: String(POLL_SECONDS) },
        notify: false,
        polling: true,
      })
    : null;
  // The old design (a full listing every 500 ms), computed for this bucket: not measured.
  const pages = (n: number) => Math.max(1, Math.ceil(n / LIST_PAGE));
  const oldRate = (n: number) => pages(n) / POLL_SECONDS;
  const row = (what: string, a: string, b: string, c: string, r: string) =>
    `${what.padEnd(40)}${a.padStart(12)}${b.padStart(18)}${c.padStart(22)}${r.padStart(10)}\n`;
  const listRate = (i: Idle) => (i.store ? i.store.lists / i.seconds : Number.NaN);
  const storeCpu = (i: Idle) => (i.store?.cpu ?? Number.NaN) / i.seconds;
  const rate = (x: number) => `${x.toFixed(2)}/s`;
  let out = `\ns3 on s3rver (load average ${loadavg()}; ${BASELINE_REF} had no S3 store: it cannot run here)\n`;
  out += row('', 'this tree', 'polling 0.5 s', `old 500 ms (computed)`, 'ratio');
  out += row(
    'control-plane idle CPU, empty bucket',
    pc(now.empty.cpu),
    poll ? pc(poll.empty.cpu) : '-',
    '-',
    ratio(now.empty.cpu, poll?.empty.cpu),
  );
  out += row(
    `control-plane idle CPU, ${FILES} objects`,
    pc(now.full.cpu),
    poll ? pc(poll.full.cpu) : '-',
    '-',
    ratio(now.full.cpu, poll?.full.cpu),
  );
  out += row(
    'LIST requests/s in idle, empty bucket',
    rate(listRate(now.empty)),
    poll ? rate(listRate(poll.empty)) : '-',
    rate(oldRate(0)),
    poll ? ratio(listRate(now.empty), listRate(poll.empty)) : '-',
  );
  out += row(
    `LIST requests/s in idle, ${FILES} objects`,
    rate(listRate(now.full)),
    poll ? rate(listRate(poll.full)) : '-',
    rate(oldRate(FILES)),
    poll ? ratio(listRate(now.full), listRate(poll.full)) : '-',
  );
  out += row(
    `requests in idle, ${FILES} objects (LIST)`,
    `${now.full.store?.requests} (${now.full.store?.lists})`,
    poll ? `${poll.full.store?.requests} (${poll.full.store?.lists})` : '-',
    `${oldRate(FILES) * IDLE_SECONDS} (${oldRate(FILES) * IDLE_SECONDS})`,
    '-',
  );
  out += row(
    `s3rver CPU in idle, ${FILES} objects`,
    pc(storeCpu(now.full)),
    poll ? pc(storeCpu(poll.full)) : '-',
    '-',
    ratio(storeCpu(now.full), poll ? storeCpu(poll.full) : undefined),
  );
  out += row(
    'landing -> SUBMITTED p50',
    `${now.p50} ms`,
    poll ? `${poll.p50} ms` : '-',
    '-',
    ratio(now.p50, poll?.p50),
  );
  out += row(
    'landing -> SUBMITTED p90',
    `${now.p90} ms`,
    poll ? `${poll.p90} ms` : '-',
    '-',
    ratio(now.p90, poll?.p90),
  );
  out +=
    `(this tree: S3 event notifications posted to /v1/ingest/events, reconcile every 300 s; polling: the same tree listing ` +
    `every ${POLL_SECONDS} s with no events, as the old watcher did; computed: ${pages(FILES)} pages of ${LIST_PAGE} per listing x ${1 / POLL_SECONDS} listings/s)\n`;
  process.stdout.write(`${out}\n`);
}

const kinds = STORES.map(storeKind);
process.stdout.write(
  `idle-ingest on ${kinds.map((k) => k.name).join(', ')}: ${IDLE_SECONDS} s idle, ${FILES} objects, ${LANDINGS} landings, settle ${SETTLE_MS} ms, ${os.cpus().length} cores, load average ${loadavg()}\n`,
);
const bin = path.join(ROOT, 'bin', 'sluice.js');
for (const kind of kinds) {
  const current: Setup = { label: `${kind.name}: this tree`, bin, kind, notify: true };
  if (kind.name === 's3') await benchS3(current);
  else await benchLocal(current);
}
