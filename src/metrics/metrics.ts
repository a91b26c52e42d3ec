// What `GET /metrics` shows Prometheus (docs/observability.md). Two kinds of figures:
//   - read from the job store at scrape time (jobs by status, queue depth, running jobs): the same on every
//     control plane sharing one PostgreSQL, since they all read one table;
//   - counted by this process as things happen (waits, processing times, encode speed, failures,
//     notification deliveries, local workers, the process's own figures): each replica counts its own,
//     so a dashboard sums them over replicas.
// One registry per Metrics (not prom-client's global one): several servers in one process (the tests)
// each keep their own figures.
import type { Logger } from 'pino';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_STATUSES, type Job } from '../jobs/job.ts';
import type { ActiveJobCount, JobStore } from '../jobs/job-store.ts';
import type { Transition } from '../jobs/state-machine.ts';

/** How a notification delivery ended; the notification dispatcher reports each through `observeDelivery`. */
export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled';

/** The one thing the notification dispatcher needs of the metrics. */
export interface DeliveryObserver {
  observeDelivery(sink: string, outcome: DeliveryOutcome, durationMs?: number): void;
}

/** What happened to jobs, as the job store reports it (observed-job-store.ts calls these). */
export interface JobObserver {
  /** A job was claimed (`pool`: the claim's, none: any), `now` being the claim's time. */
  claimed(job: Job, pool: string | undefined, now: Date): void;
  /** A transition was applied; `job` is the job after it. */
  transitioned(t: Transition, job: Job): void;
}

export interface MetricsSources {
  /** Read at scrape time: jobs by status, queued and running jobs by pipeline and pool. */
  store: Pick<JobStore, 'countByStatus' | 'countActive'>;
  /** Workers this control plane launched that are running now. */
  localWorkers: () => number;
  log?: Logger;
  /** How long a scrape waits for the store before it reports without the store's figures. */
  storeTimeoutMs?: number;
}

const SECONDS = 1000;
/** Waits in the queue: a second to a day. */
const WAIT_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600, 86_400];
/** Processing times of one job: a few seconds (a short clip) to hours (a feature film). */
const PROCESSING_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14_400, 28_800];
/** Encode speed: media seconds per wall second (1 is real time). */
const SPEED_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];
const DELIVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics implements DeliveryObserver, JobObserver {
  readonly registry = new Registry();
  private readonly waits: Histogram<'pipeline' | 'pool'>;
  private readonly processing: Histogram<'pipeline' | 'status'>;
  private readonly speed: Histogram<'pipeline'>;
  private readonly failures: Counter<'code' | 'outcome'>;
  private readonly transitions: Counter<'transition'>;
  private readonly deliveries: Counter<'sink' | 'outcome'>;
  private readonly deliverySeconds: Histogram<'sink' | 'outcome'>;
  /** The store's figures for the scrape under way: the gauges below share one read of the store. */
  private reading: Promise<StoreFigures | null> | null = null;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    // The event-loop delay is sampled every 100 ms, not prom-client's 10 ms: a timer firing 100 times a second
    // was most of an idle server's CPU.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    const figures = () => this.storeFigures();
    new Gauge({
      name: 'sluice_jobs',
      help: 'Jobs in the job store by status (read from the store at scrape time; the same on every replica)',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        const f = await figures();
        if (f) for (const [status, n] of Object.entries(f.byStatus)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'sluice_queue_depth',
      help: 'SUBMITTED jobs by pipeline and the last pool their offer reached (from the store; the same on every replica)',
      labelNames: ['pipeline', 'pool'],
      registers,
      async collect() {
        this.reset();
        for (const c of (await figures())?.active ?? [])
          if (c.status === 'SUBMITTED') this.inc({ pipeline: c.pipeline, pool: c.pool }, c.jobs);
      },
    });
    new Gauge({
      name: 'sluice_jobs_running',
      help: "PROGRESSING jobs by pipeline and their attempt's pool, any worker's (from the store; the same on every replica)",
      labelNames: ['pipeline', 'pool'],
      registers,
      async collect() {
        this.reset();
        for (const c of (await figures())?.active ?? [])
          if (c.status === 'PROGRESSING') this.inc({ pipeline: c.pipeline, pool: c.pool }, c.jobs);
      },
    });
    new Gauge({
      name: 'sluice_job_store_up',
      help: 'Whether the job store answered this scrape (1) or not (0: the store-derived figures are missing)',
      registers,
      async collect() {
        this.set((await figures()) ? 1 : 0);
      },
    });
    const localWorkers = sources.localWorkers;
    new Gauge({
      name: 'sluice_local_workers',
      help: 'Worker processes this control plane launched that are running now',
      registers,
      collect() {
        this.set(localWorkers());
      },
    });
    this.waits = new Histogram({
      name: 'sluice_job_wait_seconds',
      help: 'Time from a job being offered (created, retried, handed back) to its claim, by pipeline and pool',
      labelNames: ['pipeline', 'pool'],
      buckets: WAIT_BUCKETS,
      registers,
    });
    this.processing = new Histogram({
      name: 'sluice_job_processing_seconds',
      help: 'Time from a job first starting to its end (every attempt), by pipeline and final status',
      labelNames: ['pipeline', 'status'],
      buckets: PROCESSING_BUCKETS,
      registers,
    });
    this.speed = new Histogram({
      name: 'sluice_encode_speed',
      help: 'Encode speed of completed jobs as ffmpeg last reported it in a heartbeat (media seconds per wall second)',
      labelNames: ['pipeline'],
      buckets: SPEED_BUCKETS,
      registers,
    });
    this.failures = new Counter({
      name: 'sluice_job_failures_total',
      help: 'Failed attempts by error code; outcome retry (the job runs again) or error (it ended ERROR)',
      labelNames: ['code', 'outcome'],
      registers,
    });
    this.transitions = new Counter({
      name: 'sluice_job_transitions_total',
      help: 'Job transitions this control plane applied, by transition (claim, heartbeat, complete, fail, …)',
      labelNames: ['transition'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'sluice_notification_deliveries_total',
      help: 'Notification deliveries by sink and outcome',
      labelNames: ['sink', 'outcome'],
      registers,
    });
    this.deliverySeconds = new Histogram({
      name: 'sluice_notification_delivery_seconds',
      help: 'Time one notification delivery attempt took, by sink and outcome',
      labelNames: ['sink', 'outcome'],
      buckets: DELIVERY_BUCKETS,
      registers,
    });
  }

  /** The text Prometheus scrapes, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    try {
      return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    } finally {
      this.reading = null;
    }
  }

  claimed(job: Job, pool: string | undefined, now: Date): void {
    const waited = Math.max(0, now.getTime() - Date.parse(job.offeredAt)) / SECONDS;
    this.waits.observe({ pipeline: job.pipeline, pool: pool ?? 'any' }, waited);
  }

  transitioned(t: Transition, job: Job): void {
    this.transitions.inc({ transition: t.type });
    if (t.type === 'fail') {
      this.failures.inc({ code: t.error.code, outcome: job.status === 'ERROR' ? 'error' : 'retry' });
    }
    // The transitions that end a job; a job canceled before it ever started has no processing time.
    const ends = t.type === 'complete' || t.type === 'cancel' || t.type === 'supersede' || t.type === 'fail';
    if (ends && job.finishedAt && job.startedAt && job.status !== 'SUBMITTED') {
      const seconds = Math.max(0, Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / SECONDS;
      this.processing.observe({ pipeline: job.pipeline, status: job.status }, seconds);
    }
    if (t.type === 'complete' && typeof job.progress.speed === 'number' && job.progress.speed > 0) {
      this.speed.observe({ pipeline: job.pipeline }, job.progress.speed);
    }
  }

  observeDelivery(sink: string, outcome: DeliveryOutcome, durationMs?: number): void {
    this.deliveries.inc({ sink, outcome });
    if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0) {
      this.deliverySeconds.observe({ sink, outcome }, durationMs / SECONDS);
    }
  }

  /** One bounded read of the store per scrape, shared by the store-derived gauges; null: no answer. */
  private storeFigures(): Promise<StoreFigures | null> {
    this.reading ??= readStore(this.sources).catch((err: unknown) => {
      this.sources.log?.warn({ err: (err as Error).message }, 'metrics: the job store did not answer');
      return null;
    });
    return this.reading;
  }
}

interface StoreFigures {
  byStatus: Record<string, number>;
  active: ActiveJobCount[];
}

async function readStore(s: MetricsSources): Promise<StoreFigures> {
  const timeoutMs = s.storeTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        const byStatus: Record<string, number> = {};
        for (const status of JOB_STATUSES) byStatus[status] = await s.store.countByStatus(status);
        return { byStatus, active: await s.store.countActive(new Date()) };
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
