// The API as the tests drive it: real SQLite store, real local buckets, Fastify inject(); workers are
// not launched (FakeLauncher), so the Worker API is driven by the test itself.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { type ApiDeps, buildApi } from '../../src/api/server.ts';
import { Ingest } from '../../src/ingest/ingest.ts';
import { defaultPipeline, type Pipeline } from '../../src/ingest/pipeline.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { WebhookSink } from '../../src/notify/webhook-sink.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { FakeLauncher, silentLog, tempDir } from '../helpers.ts';

export interface TestApiOptions {
  apiToken?: string;
  maxUploadBytes?: number;
  leaseMs?: number;
  /** A user templates folder under the data directory. */
  userTemplates?: boolean;
  /** Timeouts and concurrency bounds (slow-clients.test.ts makes them small). */
  clientLimits?: ApiDeps['clientLimits'];
  /** The probe /v1/plan runs, so a test can observe it. */
  probe?: ApiDeps['probe'];
  /** Capacity pools (SLUICE_POOLS); default one pool, `local`. */
  pools?: ApiDeps['pools'];
  /** The pipelines ingest runs (default: the default pipeline, as with no configuration file). */
  pipelines?: Pipeline[];
  /** GET /metrics, and whether it is public (SLUICE_METRICS_PUBLIC). */
  metrics?: ApiDeps['metrics'];
  metricsPublic?: boolean;
  /** GET /v1/ready's timeout and cache. */
  readiness?: ApiDeps['readiness'];
  /** SLUICE_WEBHOOK_ALLOW_PRIVATE (default false, as in production). */
  webhookAllowPrivate?: boolean;
  /** SLUICE_WEBHOOK_TIMEOUT_MS. */
  webhookTimeoutMs?: number;
  /** Live event streams' settings (sse.test.ts makes them small). */
  eventStreams?: ApiDeps['eventStreams'];
}

export async function buildTestApi(t: Parameters<typeof tempDir>[0], o: TestApiOptions = {}) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'), o.pools);
  await store.migrate();
  const objects = new LocalObjectStore(dir);
  const launcher = new FakeLauncher();
  const leaseMs = o.leaseMs ?? 30_000;
  const scheduler = new Scheduler(
    store,
    launcher,
    { concurrency: 1, leaseMs, intervalMs: 60_000, stopGraceMs: 10, retentionMs: 0 },
    silentLog,
  );
  if (o.userTemplates) await fs.mkdir(path.join(dir, 'templates'));
  const templates = new TemplateRegistry(o.userTemplates ? path.join(dir, 'templates') : null);
  const pipelines = o.pipelines ?? [defaultPipeline('abr-default')];
  const ingest = new Ingest(store, objects, pipelines, templates, silentLog);
  const allowPrivate = o.webhookAllowPrivate ?? false;
  const webhookSink = new WebhookSink({
    store: store.webhooks,
    allowPrivate,
    log: silentLog,
    ...(o.webhookTimeoutMs ? { timeoutMs: o.webhookTimeoutMs } : {}),
  });
  const app = buildApi({
    webhooks: { webhooks: store.webhooks, deliveries: store.deliveries, sink: webhookSink, allowPrivate },
    store,
    workerTokens: store,
    templates,
    objects,
    ingest,
    scheduler,
    log: silentLog,
    defaultTemplate: 'abr-default',
    leaseMs,
    heartbeatSeconds: 1,
    retryDelay: () => 0,
    version: 'test',
    apiToken: o.apiToken ?? null,
    pipelines,
    ...(o.maxUploadBytes ? { maxUploadBytes: o.maxUploadBytes } : {}),
    ...(o.clientLimits ? { clientLimits: o.clientLimits } : {}),
    ...(o.probe ? { probe: o.probe } : {}),
    ...(o.pools ? { pools: o.pools } : {}),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.metricsPublic ? { metricsPublic: true } : {}),
    ...(o.readiness ? { readiness: o.readiness } : {}),
    ...(o.eventStreams ? { eventStreams: o.eventStreams } : {}),
  });
  t.after(async () => {
    await scheduler.stop();
    await app.close();
    await store.close();
  });
  const put = (key: string, body = 'not really a video') => objects.put('source', key, Readable.from([body]));
  return { dir, app, store, objects, launcher, scheduler, put, ingest, webhookSink };
}
