// `npm run bench:queue-pickup`: how fast a queued job is picked up on PostgreSQL, Sluice's PostgresJobStore
// next to graphile-worker (npm) on the same database in the same run.
// - Pick-up latency: BENCH_JOBS (default 1,000) no-op jobs submitted one at a time, each after the previous
//   one was claimed plus a 1-3 ms gap (so it measures pick-up, not backlog), in 4 rounds that take turns
//   between the two systems. Measured from the create / addJob returning (committed: its NOTIFY is out) to
//   the claim returning the job (Sluice) or the task handler starting (graphile-worker); the time from the
//   call itself is printed in brackets. Rows: 1 claimer; 4 claimers against one graphile-worker runner of
//   concurrency 4 (one LISTEN that wakes one worker per job); 4 claimers against 4 runners of concurrency 1
//   (a LISTEN each, as Sluice's claimers have).
// - Sluice's claimers are what a worker loop does, minus ffmpeg: each its own store (own pool and LISTEN
//   connection, as separate processes), woken by onWork (the store's NOTIFY) with the scheduler's default
//   500 ms poll as the fallback; claimNext, then the complete transition. graphile-worker: pollInterval
//   500 ms, a no-op task.
// - Throughput: BENCH_JOBS jobs enqueued at once, then 1, 4 and 16 claimers (graphile-worker: concurrency
//   1, 4, 16) started against the full queue; claims per second from their start until the queue is empty.
// Each system lives in a schema of its own, dropped after. Timings are printed, never asserted.
// BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
import { randomBytes } from 'node:crypto';
import { Logger, makeWorkerUtils, type Runner, run, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import type { NewJob } from '../src/jobs/job.ts';
import { newToken } from '../src/jobs/job-id.ts';
import { PostgresJobStore } from '../src/jobs/postgres-job-store.ts';
import { getBuiltinTemplate } from '../src/templates/builtin-templates.ts';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
/**
 * Latency rows: Sluice's claimers (each its own store: own pool and LISTEN connection, as separate
 * processes would be) against graphile-worker as one runner of that concurrency (one LISTEN, which wakes
 * one worker per job) and as that many runners of concurrency 1 (one LISTEN each, as Sluice's stores).
 */
const LATENCY_ROWS = [
  { claimers: 1, label: '1', runners: 1, concurrency: 1 },
  { claimers: 4, label: '4', runners: 1, concurrency: 4 },
  { claimers: 4, label: '4 (gw: 4 runners)', runners: 4, concurrency: 1 },
];
const THROUGHPUT_CLAIMERS = [1, 4, 16];
const LATENCY_ROUNDS = 4;
/** The fallback both sides poll at when no NOTIFY arrives (Sluice's scheduler default, SLUICE_SCHEDULER_INTERVAL_MS). */
const POLL_MS = 500;
const LEASE_MS = 60_000;
const TEMPLATE = getBuiltinTemplate('abr-default');
const tag = randomBytes(4).toString('hex');
const SLUICE_SCHEMA = `bench_sluice_${tag}`;
const GRAPHILE_SCHEMA = `bench_graphile_${tag}`;
const silent = new Logger(() => () => {});

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The gap between two latency jobs: 1–3 ms, so the claimers are idle (waiting on NOTIFY) each time. */
const gap = () => sleep(1 + Math.random() * 2);

let seq = 0;
function noopJob(): NewJob {
  const key = `bench/${tag}/${seq++}.mp4`;
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1, etag: `e${seq}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|e${seq}`,
  };
}

interface Latency {
  fromCommit: number[];
  fromCall: number[];
}

/**
 * A Sluice worker loop minus ffmpeg: its own store, woken by onWork (or the poll fallback), claims and
 * completes. `onClaim` is told each job id as the claim returns it.
 */
class SluiceClaimer {
  readonly store = new PostgresJobStore({
    connectionString: DATABASE_URL,
    schema: SLUICE_SCHEMA,
    maxConnections: 1,
  });
  private woken = false;
  private wake: (() => void) | null = null;
  private stopped = false;
  private readonly off: () => void;
  done: Promise<void> = Promise.resolve();

  constructor(private readonly onClaim: (id: string) => void) {
    this.off = this.store.onWork(() => {
      this.woken = true;
      this.wake?.();
    });
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      // Cleared before the claim: a NOTIFY that arrives while claiming is not lost.
      this.woken = false;
      const token = newToken();
      const job = await this.store.claimNext(token, LEASE_MS, new Date());
      if (job) {
        this.onClaim(job.id);
        await this.store.transition(job.id, { type: 'complete', leaseToken: token, outputs: [] }, new Date());
        continue;
      }
      if (this.woken || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, POLL_MS);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
    this.off();
    await this.store.close();
  }
}

async function sluiceClaimers(n: number, onClaim: (id: string) => void): Promise<SluiceClaimer[]> {
  const cs = Array.from({ length: n }, () => new SluiceClaimer(onClaim));
  await Promise.all(cs.map((c) => c.store.listeningReady()));
  return cs;
}

/** Resolves when `id` is reported, with the time it was. */
class Arrivals {
  private readonly waiting = new Map<string, (t: number) => void>();
  private readonly early = new Map<string, number>();
  count = 0;
  private onCount: (() => void) | null = null;
  private target = Number.POSITIVE_INFINITY;

  report = (id: string): void => {
    const t = performance.now();
    this.count++;
    const w = this.waiting.get(id);
    if (w) {
      this.waiting.delete(id);
      w(t);
    } else this.early.set(id, t);
    if (this.count >= this.target) this.onCount?.();
  };

  when(id: string): Promise<number> {
    const t = this.early.get(id);
    if (t !== undefined) {
      this.early.delete(id);
      return Promise.resolve(t);
    }
    return new Promise((r) => this.waiting.set(id, r));
  }

  reached(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    this.target = n;
    return new Promise((r) => {
      this.onCount = r;
    });
  }
}

async function sluiceLatency(producer: PostgresJobStore, claimers: number, jobs: number): Promise<Latency> {
  const arrivals = new Arrivals();
  const cs = await sluiceClaimers(claimers, arrivals.report);
  for (const c of cs) c.start();
  const out: Latency = { fromCommit: [], fromCall: [] };
  try {
    for (let i = 0; i < jobs; i++) {
      await gap();
      const t0 = performance.now();
      const { job } = await producer.create(noopJob(), new Date());
      const t1 = performance.now();
      const t2 = await arrivals.when(job.id);
      out.fromCall.push(t2 - t0);
      out.fromCommit.push(t2 - t1);
    }
  } finally {
    await Promise.all(cs.map((c) => c.stop()));
  }
  return out;
}

async function sluiceThroughput(producer: PostgresJobStore, claimers: number): Promise<number> {
  // Enqueued at once (8 creates in flight), nobody claiming yet.
  let left = JOBS;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await producer.create(noopJob(), new Date());
    }),
  );
  const arrivals = new Arrivals();
  const t0 = performance.now();
  const cs = await sluiceClaimers(claimers, arrivals.report);
  for (const c of cs) c.start();
  await arrivals.reached(JOBS);
  // Each claimer completes what it claimed before it stops: the queue is empty once they have.
  const stopping = cs.map((c) => c.stop());
  await Promise.all(stopping);
  const t1 = performance.now();
  const remaining = await producer.countByStatus('SUBMITTED');
  if (remaining !== 0) throw new Error(`sluice: ${remaining} jobs left unclaimed`);
  return JOBS / ((t1 - t0) / 1000);
}

async function graphileRunner(concurrency: number, arrivals: Arrivals): Promise<Runner> {
  return run({
    connectionString: DATABASE_URL,
    schema: GRAPHILE_SCHEMA,
    concurrency,
    maxPoolSize: concurrency + 2,
    noHandleSignals: true,
    pollInterval: POLL_MS,
    logger: silent,
    taskList: {
      noop: async (payload) => {
        arrivals.report((payload as { id: string }).id);
      },
    },
  });
}

/** `runners` runners of `concurrency` workers each; every runner has its own pool and LISTEN connection. */
async function graphileLatency(
  utils: WorkerUtils,
  concurrency: number,
  runners: number,
  jobs: number,
): Promise<Latency> {
  const arrivals = new Arrivals();
  const rs = await Promise.all(Array.from({ length: runners }, () => graphileRunner(concurrency, arrivals)));
  const out: Latency = { fromCommit: [], fromCall: [] };
  try {
    // Let every worker reach its idle wait (it fetched once and found nothing) before the first job.
    await sleep(200);
    for (let i = 0; i < jobs; i++) {
      await gap();
      const id = `j${seq++}`;
      const t0 = performance.now();
      await utils.addJob('noop', { id });
      const t1 = performance.now();
      const t2 = await arrivals.when(id);
      out.fromCall.push(t2 - t0);
      out.fromCommit.push(t2 - t1);
    }
  } finally {
    await Promise.all(rs.map((r) => r.stop()));
  }
  return out;
}

async function graphileThroughput(
  utils: WorkerUtils,
  admin: pg.Client,
  concurrency: number,
): Promise<number> {
  let left = JOBS;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await utils.addJob('noop', { id: `j${seq++}` });
    }),
  );
  const arrivals = new Arrivals();
  const t0 = performance.now();
  const runner = await graphileRunner(concurrency, arrivals);
  await arrivals.reached(JOBS);
  // graphile-worker deletes a job after its handler returned, without the worker waiting: empty table.
  for (;;) {
    const r = await admin.query(`SELECT count(*)::int AS n FROM "${GRAPHILE_SCHEMA}"._private_jobs`);
    if (r.rows[0].n === 0) break;
    await sleep(2);
  }
  const t1 = performance.now();
  await runner.stop();
  return JOBS / ((t1 - t0) / 1000);
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const ratio = (a: number, b: number) => `${fmt(a / b)}x`;

async function main(): Promise<void> {
  const started = performance.now();
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  const producer = new PostgresJobStore({
    connectionString: DATABASE_URL,
    schema: SLUICE_SCHEMA,
    maxConnections: 8,
  });
  let utils: WorkerUtils | null = null;
  try {
    await producer.migrate();
    utils = await makeWorkerUtils({
      connectionString: DATABASE_URL,
      schema: GRAPHILE_SCHEMA,
      logger: silent,
    });
    await utils.migrate();
    const pg = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version;
    console.log(
      `queue pick-up on PostgreSQL ${pg}, ${JOBS} no-op jobs; Node ${process.version}; graphile-worker 0.18.0\n`,
    );

    console.log('pick-up latency, ms (from create/addJob returned; from the call in brackets)');
    console.log('claimers | sluice p50 | graphile p50 | ratio | sluice p95 | graphile p95 | ratio');
    for (const row of LATENCY_ROWS) {
      // In rounds, Sluice and graphile-worker in turn: a change of load on the shared machine falls on both.
      const s: Latency = { fromCommit: [], fromCall: [] };
      const g: Latency = { fromCommit: [], fromCall: [] };
      for (let r = 0; r < LATENCY_ROUNDS; r++) {
        const jobs = Math.floor(JOBS / LATENCY_ROUNDS) + (r < JOBS % LATENCY_ROUNDS ? 1 : 0);
        for (const [into, got] of [
          [s, await sluiceLatency(producer, row.claimers, jobs)],
          [g, await graphileLatency(utils, row.concurrency, row.runners, jobs)],
        ] as const) {
          into.fromCommit.push(...got.fromCommit);
          into.fromCall.push(...got.fromCall);
        }
      }
      const [sp50, gp50, sp95, gp95] = [
        pct(s.fromCommit, 50),
        pct(g.fromCommit, 50),
        pct(s.fromCommit, 95),
        pct(g.fromCommit, 95),
      ];
      console.log(
        [
          row.label.padStart(8),
          `${fmt(sp50)} (${fmt(pct(s.fromCall, 50))})`.padStart(10),
          `${fmt(gp50)} (${fmt(pct(g.fromCall, 50))})`.padStart(12),
          ratio(sp50, gp50).padStart(5),
          `${fmt(sp95)} (${fmt(pct(s.fromCall, 95))})`.padStart(10),
          `${fmt(gp95)} (${fmt(pct(g.fromCall, 95))})`.padStart(12),
          ratio(sp95, gp95).padStart(5),
        ].join(' | '),
      );
    }
    console.log('target: sluice/graphile <= 1.5x\n');

    console.log('throughput, claims/s (queue of all jobs at once, drained)');
    console.log('claimers | sluice | graphile | sluice/graphile');
    for (const n of THROUGHPUT_CLAIMERS) {
      const s = await sluiceThroughput(producer, n);
      const g = await graphileThroughput(utils, admin, n);
      console.log(
        [String(n).padStart(8), fmt(s, 0).padStart(6), fmt(g, 0).padStart(8), ratio(s, g).padStart(15)].join(
          ' | ',
        ),
      );
    }
    console.log(`\ntotal ${fmt((performance.now() - started) / 1000, 1)} s`);
  } finally {
    await Promise.resolve(utils?.release()).catch(() => {});
    await producer.close().catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${SLUICE_SCHEMA}" CASCADE`).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${GRAPHILE_SCHEMA}" CASCADE`).catch(() => {});
    await admin.end();
  }
}

await main();
