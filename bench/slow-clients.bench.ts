// `npm run bench:slow-clients`: a real `sluice serve` under many slow clients. Opens BENCH_SLOW_CLIENTS
// connections (default 1500) in three kinds: silent sockets, request heads sent 1 byte a second, and
// uploads that send their head then 1 byte every 9 s. Measures /v1/health latency (p50/p99) before and
// while they are held, printed as during/before ratios; how many connections the server held, refused
// (503) or cut off over time; and the server's open file descriptors (/proc/<pid>/fd) before, during and
// after. Then a burst of BENCH_PLANS (default 100) concurrent /v1/plan calls, counting the ffprobe child
// processes of the server at once. Server limits are the defaults unless set through SLUICE_* variables.
// BENCH_SLUICE_BIN runs another checkout's bin/sluice.js (to compare with an older version);
// BENCH_SERVER_FDS=<n> starts the server under `prlimit --nofile=n` (to see what a low fd limit does).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeSampleClip } from '../src/media/sample-clip.ts';

const SLOW = Number(process.env.BENCH_SLOW_CLIENTS ?? 1500);
const PLANS = Number(process.env.BENCH_PLANS ?? 100);
/** How long the slow clients are watched: past every default timeout (10 s) plus a rate window. */
const WATCH_MS = Number(process.env.BENCH_WATCH_MS ?? 30_000);
const HEALTH_SAMPLES = 300;
const here = path.dirname(fileURLToPath(import.meta.url));
const bin = process.env.BENCH_SLUICE_BIN ?? path.join(here, '..', 'bin', 'sluice.js');
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-slow-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the server -------------------------------------------------------------------------------------
const FD_LIMIT = process.env.BENCH_SERVER_FDS;
const argv = [process.execPath, bin, '--data-dir', dataDir, 'serve', '--port', '0'];
if (FD_LIMIT) argv.unshift('prlimit', `--nofile=${FD_LIMIT}:${FD_LIMIT}`, '--');
const server = spawn(argv[0] as string, argv.slice(1), {
  env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'warn' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serverLog = '';
server.stderr.on('data', (d: Buffer) => {
  serverLog = (serverLog + d.toString()).slice(-4000);
});
const serverExit = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
const { url, pid } = await (async () => {
  for (let i = 0; i < 600; i++) {
    const text = await fs.readFile(path.join(dataDir, 'server.json'), 'utf8').catch(() => '');
    if (text) return JSON.parse(text) as { url: string; pid: number };
    await sleep(50);
  }
  throw new Error(`sluice serve did not start:\n${serverLog}`);
})();
const { port, hostname } = new URL(url);
console.log(`sluice serve pid ${pid} at ${url}; ${SLOW} slow clients; fd limit here ${await fdLimit()}`);

async function fdLimit(): Promise<string> {
  const limits = await fs.readFile(`/proc/${pid}/limits`, 'utf8').catch(() => '');
  return (
    limits
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
      ?.split(/\s{2,}/)[1] ?? '?'
  );
}
async function fds(): Promise<number> {
  return (await fs.readdir(`/proc/${pid}/fd`).catch(() => [])).length;
}

// --- health latency ---------------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
/** `fresh`: on a new connection each time, as a load balancer's health check does (no keep-alive). */
function health(fresh: boolean): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const o = { agent: fresh ? false : agent, host: hostname, port, path: '/v1/health', timeout: 5_000 };
    const req = http.get(o, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - t0, ok: res.statusCode === 200 }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ ms: performance.now() - t0, ok: false }));
  });
}
async function healthRun(n: number, fresh = false): Promise<{ p50: number; p99: number; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const r = await health(fresh);
    if (r.ok) ms.push(r.ms);
    else failed++;
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), failed };
}

// --- slow clients -----------------------------------------------------------------------------------
type Kind = 'silent' | 'slow head' | 'slow upload';
interface Slow {
  kind: Kind;
  socket: net.Socket;
  state: 'connecting' | 'held' | 'refused' | 'cut' | 'failed';
  response: string;
  /** Bytes of HEAD sent so far (slow head). */
  sent: number;
}
const slow: Slow[] = [];
function open(kind: Kind, i: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const c: Slow = { kind, socket, state: 'connecting', response: '', sent: 0 };
    slow.push(c);
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      c.response ||= d.toString('latin1').split('\r\n')[0] ?? '';
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      c.state = 'held';
      if (kind === 'slow head') socket.write('G');
      if (kind === 'slow upload') {
        socket.write(
          `PUT /v1/uploads/slow-${i}.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n` +
            'Content-Length: 1000000\r\n\r\nx',
        );
      }
      resolve();
    });
    socket.once('close', () => {
      if (c.state === 'connecting') {
        c.state = 'failed';
        resolve();
      } else c.state = c.response.includes(' 503 ') ? 'refused' : 'cut';
    });
  });
}
const HEAD = 'ET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '.split('');
let tick = 0;
const drip = setInterval(() => {
  tick++;
  for (const c of slow) {
    if (c.state !== 'held' || !c.socket.writable) continue;
    if (c.kind === 'slow head') c.socket.write(HEAD[c.sent++] ?? 'a');
    if (c.kind === 'slow upload' && tick % 9 === 0) c.socket.write('x');
  }
}, 1000);

type Counts = Record<Slow['state'], number>;
const zero = (): Counts => ({ connecting: 0, held: 0, refused: 0, cut: 0, failed: 0 });
function census(): Counts & { kinds: Record<string, Counts> } {
  const all = zero();
  const kinds: Record<string, Counts> = {};
  for (const c of slow) {
    all[c.state]++;
    kinds[c.kind] ??= zero();
    (kinds[c.kind] as Counts)[c.state]++;
  }
  return { ...all, kinds };
}
function showCensus(label: string) {
  const c = census();
  const kinds = Object.entries(c.kinds)
    .map(([k, v]) => `${k}: ${v.held} held/${v.refused} refused/${v.cut} cut/${v.failed} failed`)
    .join('; ');
  console.log(
    `${label.padEnd(22)} held ${c.held}, refused ${c.refused}, cut off ${c.cut}, failed ${c.failed}  (${kinds})`,
  );
}

// --- the run ----------------------------------------------------------------------------------------
const fdsBefore = await fds();
await healthRun(20); // warm up
const before = await healthRun(HEALTH_SAMPLES);
const beforeFresh = await healthRun(HEALTH_SAMPLES / 3, true);

const kinds: Kind[] = ['silent', 'slow head', 'slow upload'];
const t0 = Date.now();
for (let i = 0; i < SLOW; i += 100) {
  await Promise.all(
    Array.from({ length: Math.min(100, SLOW - i) }, (_, j) => open(kinds[(i + j) % 3] as Kind, i + j)),
  );
}
console.log(`opened ${SLOW} connections in ${Date.now() - t0} ms`);
showCensus('after opening:');
const fdsDuring = await fds();
const during = await healthRun(HEALTH_SAMPLES);
const duringFresh = await healthRun(HEALTH_SAMPLES / 3, true);
showCensus(`at ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
const fdsDuring2 = await fds();

let late = during;
while (Date.now() - t0 < WATCH_MS) {
  await sleep(5000);
  late = await healthRun(50);
  showCensus(`at ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
  if (census().held === 0) break;
}
const fdsAfter = await fds();
const final = census();
clearInterval(drip);
for (const c of slow) c.socket.destroy();

// --- a burst of plans: ffprobe processes at once ----------------------------------------------------
const clip = path.join(dataDir, 'buckets', 'source', 'plan', 'clip.mp4');
await fs.mkdir(path.dirname(clip), { recursive: true });
await makeSampleClip(path.join(dataDir, 'clip.mp4'), { width: 320, height: 180, seconds: 1 });
await fs.rename(path.join(dataDir, 'clip.mp4'), clip);
let probesAtOnce = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    let n = 0;
    for (const p of await fs.readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(p)) continue;
      const stat = await fs.readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m?.[1]?.startsWith('ffprobe') && Number(m[2]) === pid) n++;
    }
    probesAtOnce = Math.max(probesAtOnce, n);
    await sleep(5);
  }
})();
const planStart = performance.now();
const planStatuses = await Promise.all(
  Array.from({ length: PLANS }, async () => {
    const res = await fetch(`${url}/v1/plan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'plan/clip.mp4' }),
    }).catch(() => null);
    await res?.arrayBuffer();
    return res?.status ?? 0;
  }),
);
const planMs = performance.now() - planStart;
sampling = false;
await sampler;
const statusCount = new Map<number, number>();
for (const s of planStatuses) statusCount.set(s, (statusCount.get(s) ?? 0) + 1);

// --- report -----------------------------------------------------------------------------------------
const f = (x: number) => `${x.toFixed(2)} ms`;
console.log('\n/v1/health latency (sequential, keep-alive)');
console.log(`  before:            p50 ${f(before.p50)}  p99 ${f(before.p99)}  failed ${before.failed}`);
console.log(`  during (held):     p50 ${f(during.p50)}  p99 ${f(during.p99)}  failed ${during.failed}`);
console.log(`  late (after cuts): p50 ${f(late.p50)}  p99 ${f(late.p99)}  failed ${late.failed}`);
console.log(
  `  during/before:     p50 x${(during.p50 / before.p50).toFixed(2)}  p99 x${(during.p99 / before.p99).toFixed(2)}`,
);
console.log('/v1/health latency, a new connection each time');
console.log(
  `  before:            p50 ${f(beforeFresh.p50)}  p99 ${f(beforeFresh.p99)}  failed ${beforeFresh.failed}`,
);
console.log(
  `  during (held):     p50 ${f(duringFresh.p50)}  p99 ${f(duringFresh.p99)}  failed ${duringFresh.failed}`,
);
console.log(
  `  during/before:     p50 x${(duringFresh.p50 / beforeFresh.p50).toFixed(2)}  p99 x${(duringFresh.p99 / beforeFresh.p99).toFixed(2)}`,
);
console.log(
  `server fds: before ${fdsBefore}, during ${fdsDuring} then ${fdsDuring2}, after ${fdsAfter} (limit ${await fdLimit()})`,
);
console.log(
  `slow clients at the end: held ${final.held}, refused ${final.refused}, cut off ${final.cut}, failed ${final.failed}`,
);
const answers = new Map<string, number>();
for (const c of slow) {
  const k = `${c.kind}: ${c.response || '(no response)'}`;
  answers.set(k, (answers.get(k) ?? 0) + 1);
}
console.log(`  what they got: ${[...answers].map(([k, n]) => `${n}x ${k}`).join('; ')}`);
console.log(
  `${PLANS} concurrent /v1/plan: ${[...statusCount].map(([s, n]) => `${n}x ${s}`).join(', ')} in ${planMs.toFixed(0)} ms; ` +
    `most ffprobe processes at once: ${probesAtOnce}`,
);

agent.destroy();
server.kill('SIGTERM');
await Promise.race([serverExit, sleep(10_000).then(() => server.kill('SIGKILL'))]);
await fs.rm(dataDir, { recursive: true, force: true });
