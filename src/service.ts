// Composition root of `sluice serve`: job store, buckets, ingest, scheduler + launcher, API, bucket watcher.
import path from 'node:path';
import type { Logger } from 'pino';
import { isLoopback, loadOrCreateToken, TOKEN_FILE } from './api/api-token.ts';
import { buildApi, closeEventStreams } from './api/server.ts';
import { type Config, ceilingsOf, localPoolsOf, poolSettingsOf, retryScheduleOf } from './config/config.ts';
import { destinationBucketsOf, loadConfigFile, sourceBucketsOf } from './config/pipeline-file.ts';
import { SluiceError } from './errors.ts';
import { EventIntake } from './ingest/event-intake.ts';
import { Ingest } from './ingest/ingest.ts';
import { JetStreamSource } from './ingest/jetstream-source.ts';
import { SnsVerifier } from './ingest/notifications/sns.ts';
import { defaultPipeline, type Pipeline } from './ingest/pipeline.ts';
import { SkipLog } from './ingest/skip-log.ts';
import { SourceWatch } from './ingest/source-watch.ts';
import { instanceId, type Leadership, SoleLeader } from './jobs/leadership.ts';
import { openJobStore, type ServiceJobStore } from './jobs/open-job-store.ts';
import { parsePostgresUrl } from './jobs/postgres-job-store.ts';
import { PostgresLeadership } from './jobs/postgres-leadership.ts';
import { retryDelayMs } from './jobs/state-machine.ts';
import type { Launcher } from './launchers/launcher.ts';
import { LocalProcessLauncher } from './launchers/local-process-launcher.ts';
import { NoLauncher } from './launchers/no-launcher.ts';
import { type FfmpegBinaries, findFfmpeg } from './media/ffmpeg-binaries.ts';
import { Metrics } from './metrics/metrics.ts';
import { observeJobStore } from './metrics/observed-job-store.ts';
import { emailSinkFrom } from './notify/email-sink.ts';
import { jetStreamSinkFrom } from './notify/jetstream-sink.ts';
import { Outbox } from './notify/outbox.ts';
import type { Sink } from './notify/sink.ts';
import { WebhookSink } from './notify/webhook-sink.ts';
import { Scheduler } from './scheduler/scheduler.ts';
import { lockDataDir } from './storage/data-dir-lock.ts';
import type { ObjectStore } from './storage/object-store.ts';
import { checkObjectStore, openObjectStore, storageEnvOf } from './storage/open-object-store.ts';
import { securePrivateDataDir } from './storage/private-data-dir.ts';
import { writeServerFile } from './storage/server-file.ts';
import { TemplateRegistry } from './templates/template-registry.ts';
import { VERSION } from './version.ts';

export interface Service {
  url: string;
  store: ServiceJobStore;
  objects: ObjectStore;
  ingest: Ingest;
  scheduler: Scheduler;
  /** GET /metrics; also what the notification dispatcher reports deliveries to (`observeDelivery`). */
  metrics: Metrics;
  /** Stops taking work; running jobs get `graceMs` (default: the configured grace) to finish, else are released. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServiceOptions {
  /** False: a pure control plane (`--no-local-workers`); remote pull workers do all the work. */
  localWorkers?: boolean;
}

export async function startService(config: Config, log: Logger, o: ServiceOptions = {}): Promise<Service> {
  const ffmpeg = await findFfmpeg();
  log.info({ ffmpeg: ffmpeg.ffmpeg, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found');
  await securePrivateDataDir(config.dataDir, log);
  // Before anything else touches the data directory: a second server must not open its database. On
  // PostgreSQL, control planes share it (and the job store), each under a lock of its own.
  const instance = instanceId();
  const lock = await lockDataDir(config.dataDir, config.databaseUrl ? { shared: instance } : {});
  try {
    return await startLocked(config, log, lock, ffmpeg, o.localWorkers !== false, instance);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(
  config: Config,
  log: Logger,
  lock: Awaited<ReturnType<typeof lockDataDir>>,
  ffmpeg: FfmpegBinaries,
  localWorkers: boolean,
  instance: string,
): Promise<Service> {
  const opened = await openObjectStore(config, log.child({ component: 'objects' }));
  const objects = opened.objects;
  const buckets = { source: config.sourceBucket, destination: config.destinationBucket };
  // Pipelines: the configuration file's (--config, SLUICE_CONFIG), else the default one (zero config).
  const templates = new TemplateRegistry(path.join(config.dataDir, 'templates'));
  const file = config.configFile ? await loadConfigFile(config.configFile, templates) : null;
  const pipelines: Pipeline[] = file?.pipelines ?? [defaultPipeline(config.defaultTemplate, buckets)];
  // Email rules without an SMTP server are refused here, before anything starts.
  let url = '';
  const email = emailSinkFrom(config, file?.emailRules ?? [], log.child({ component: 'email' }), () => url);
  const events = jetStreamSinkFrom(config, log.child({ component: 'events' }));
  if (config.configFile)
    log.info({ file: config.configFile, pipelines: pipelines.map((p) => p.name) }, 'pipelines read');
  const sourceBuckets = sourceBucketsOf(pipelines);
  // Local: the bucket folders are made; S3: each must exist and answer (BUCKET_NOT_FOUND, …).
  await checkObjectStore(opened, [
    ...new Set([buckets.source, buckets.destination, ...sourceBuckets, ...destinationBucketsOf(pipelines)]),
  ]);
  log.info({ storage: opened.kind, where: opened.where }, 'object store open');

  const pools = poolSettingsOf(config);
  const openedJobs = openJobStore(config, log.child({ component: 'store' }), pools);
  // Claims and transitions are observed where they are made, in the store everything writes through.
  const metrics = new Metrics({
    store: openedJobs.store,
    localWorkers: () => launcher.running(),
    log: log.child({ component: 'metrics' }),
  });
  const store = observeJobStore(openedJobs.store, metrics);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  log.info({ store: openedJobs.kind, where: openedJobs.where }, 'job store open');

  const launcher: Launcher = localWorkers
    ? new LocalProcessLauncher({
        serverUrl: () => url,
        dataDir: config.dataDir,
        logLevel: config.logLevel,
        ffmpeg,
        pools: localPoolsOf(config),
        env: storageEnvOf(config), // local workers open the same object store
        forwardLog: (line) => {
          if (config.logLevel !== 'silent') process.stderr.write(line);
        },
      })
    : new NoLauncher();
  const leaseMs = config.leaseSeconds * 1000;
  const leadership: Leadership = config.databaseUrl
    ? new PostgresLeadership({
        ...parsePostgresUrl(config.databaseUrl),
        instance,
        // A leader that cannot prove its connection within this gives leadership up well before the
        // leases it would expire could be taken for lapsed by a survivor.
        timeoutMs: Math.min(5000, leaseMs / 2),
        log: log.child({ component: 'leadership' }),
      })
    : new SoleLeader();
  const scheduler = new Scheduler(
    store,
    launcher,
    {
      // No local workers: the scheduler claims nothing itself.
      concurrency: localWorkers ? config.concurrency : 0,
      leaseMs,
      intervalMs: config.schedulerIntervalMs,
      // Cancel must end the worker and its ffmpeg within 2 s: SIGINT, then SIGKILL after 1 s.
      stopGraceMs: 1000,
      retentionMs: config.retentionDays * 86_400_000,
      leadership,
      sharedStore: openedJobs.kind === 'postgres',
      objects: opened.objects,
    },
    log.child({ component: 'scheduler' }),
  );
  const skips = new SkipLog(store, log.child({ component: 'ingest' }));
  if (opened.kind === 'local') {
    opened.objects.onLinkSkipped = (bucket, key, target) =>
      void skips.report({
        bucket,
        key,
        reason: 'SYMLINK',
        version: target,
        message: `a symbolic link${target ? ` to ${target}` : ''}: Sluice does not follow links in buckets; copy the real file in instead`,
      });
  }
  const ingest = new Ingest(store, objects, pipelines, templates, log.child({ component: 'ingest' }), {
    onJobCreated: () => scheduler.poke(),
    onSuperseded: (jobs) => scheduler.stopWorkers(jobs.map((j) => j.id)),
    ceilings: ceilingsOf(config),
    onSkipped: (notice) => skips.report(notice),
  });
  let apiToken: string | null = null;
  if (!isLoopback(config.host)) {
    const t = await loadOrCreateToken(config.dataDir);
    apiToken = t.token;
    if (t.created) {
      // Printed once, when made; afterwards it is read from the file.
      process.stdout.write(`API token (also in ${path.join(config.dataDir, TOKEN_FILE)}): ${t.token}\n`);
    }
  }
  // Object-store notifications (POST /v1/ingest/events) and the JetStream consumer share one intake.
  const intake = new EventIntake(ingest, objects, store, log.child({ component: 'ingest-events' }), (n) =>
    skips.report(n),
  );
  const webhookSink = new WebhookSink({
    store: store.webhooks,
    allowPrivate: config.webhookAllowPrivate,
    timeoutMs: config.webhookTimeoutMs,
    source: config.eventSource,
    log: log.child({ component: 'webhooks' }),
  });
  // Made once the sinks are (below); the API's redelivery wakes it.
  let outbox: Outbox | null = null;
  const api = buildApi({
    webhooks: {
      webhooks: store.webhooks,
      deliveries: store.deliveries,
      sink: webhookSink,
      allowPrivate: config.webhookAllowPrivate,
      onRedeliver: () => outbox?.poke(),
    },
    ingestEvents: {
      intake,
      sns: new SnsVerifier(),
      ingestToken: config.ingestToken ?? null,
      hmacSecret: config.ingestHmacSecret ?? null,
      snsTopics: config.ingestSnsTopicArns ?? [],
    },
    apiToken,
    eventStreams: { maxStreams: config.maxEventStreams, source: config.eventSource },
    maxUploadBytes: config.maxUploadBytes,
    clientLimits: {
      headersTimeoutMs: config.headersTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      minBodyBytesPerSecond: config.minBodyBytesPerSecond,
      bodyRateWindowMs: config.bodyRateWindowMs,
      maxConnections: config.maxConnections,
      maxConcurrentUploads: config.maxConcurrentUploads,
      maxConcurrentProbes: config.maxConcurrentProbes,
      maxQueuedProbes: config.maxQueuedProbes,
    },
    store,
    workerTokens: store,
    templates,
    objects,
    ingest,
    scheduler,
    skips,
    log,
    defaultTemplate: config.defaultTemplate,
    leaseMs,
    pools,
    pipelines,
    ceilings: ceilingsOf(config),
    heartbeatSeconds: config.heartbeatSeconds,
    retryDelay: (attempt) => retryDelayMs(attempt, Math.random()),
    version: VERSION,
    leadership: { instance, isLeader: () => scheduler.isLeader() },
    buckets,
    metrics,
    metricsPublic: config.metricsPublic,
  });
  try {
    await api.listen({ host: config.host, port: config.port });
  } catch (err) {
    await api.close().catch(() => {});
    await leadership.close();
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new SluiceError(
        'PORT_IN_USE',
        `cannot listen on ${config.host}:${config.port}: the port is already in use (another program, or another sluice serve); stop it, or pick another port with --port <n> or SLUICE_PORT (0 picks a free one)`,
      );
    }
    if (code === 'EACCES') {
      throw new SluiceError(
        'PORT_NOT_PERMITTED',
        `cannot listen on ${config.host}:${config.port}: this user may not open that port (ports below 1024 need privileges); pick a port of 1024 or above with --port <n> or SLUICE_PORT, and put a reverse proxy in front if the service must answer on ${config.port}`,
      );
    }
    if (code === 'EADDRNOTAVAIL') {
      throw new SluiceError(
        'ADDRESS_NOT_AVAILABLE',
        `cannot listen on ${config.host}:${config.port}: no network interface of this machine has the address ${config.host}; pass one it has with --host (127.0.0.1 for this machine only, 0.0.0.0 for every interface) or SLUICE_HOST`,
      );
    }
    throw err;
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // Control planes sharing the data directory (PostgreSQL) each write it: the CLI finds the last one.
  const serverFile = await writeServerFile(config.dataDir, { url, pid: process.pid, instance });

  // One source watch per source bucket the pipelines watch.
  const watchers = sourceBuckets.map(
    (bucket) =>
      new SourceWatch(
        objects,
        store,
        { bucket, settleMs: config.settleMs, reconcileMs: config.reconcileSeconds * 1000 },
        async (event) => {
          await ingest.handle(event);
        },
        log.child({ component: 'watcher', bucket }),
        (notice) => skips.report(notice),
      ),
  );
  const jetstream = config.natsUrl
    ? new JetStreamSource(
        {
          url: config.natsUrl,
          stream: config.natsStream,
          subject: config.natsSubject,
          consumer: config.natsConsumer,
          ackWaitMs: config.natsAckWaitSeconds * 1000,
          retryDelayMs: 5000,
        },
        intake,
        log.child({ component: 'jetstream' }),
      )
    : null;
  try {
    await jetstream?.start();
    await events?.start();
  } catch (err) {
    await jetstream?.stop().catch(() => {});
    await api.close().catch(() => {});
    await leadership.close();
    await store.close();
    await serverFile.remove();
    throw err;
  }
  // Notifications: job events go from the outbox to each sink (docs/notifications.md).
  const sinks: Sink[] = [webhookSink];
  // An attempt holds its delivery a little longer than the slowest attempt any sink may make: a server
  // killed mid-attempt has that delivery tried again by the next one soon after, never twice at once.
  const attemptDeadlinesMs = [config.webhookTimeoutMs];
  if (email) {
    sinks.push(email);
    attemptDeadlinesMs.push(config.smtpTimeoutMs * 4); // email-sink.ts bounds a whole attempt so
  }
  if (events) {
    sinks.push(events);
    attemptDeadlinesMs.push(config.eventsNatsPublishTimeoutMs * 2); // a stream check, then the publish
  }
  outbox = new Outbox(
    store,
    store.deliveries,
    sinks,
    {
      holdMs: Math.max(...attemptDeadlinesMs) + 5_000,
      source: config.eventSource,
      concurrency: config.notifyConcurrency,
      retry: retryScheduleOf(config),
      statusUpdateMs: config.statusUpdateSeconds * 1000,
      retentionMs: config.retentionDays * 86_400_000,
      isLeader: () => scheduler.isLeader(),
      observe: (sink, outcome, ms) => metrics.observeDelivery(sink, outcome, ms),
    },
    log.child({ component: 'outbox' }),
  );
  for (const w of watchers) await w.start();
  scheduler.start();
  outbox.start();
  log.info(
    { url, dataDir: config.dataDir, concurrency: localWorkers ? config.concurrency : 0, localWorkers },
    'sluice serving',
  );

  return {
    url,
    store,
    objects,
    ingest,
    scheduler,
    metrics,
    async stop(graceMs = config.shutdownGraceSeconds * 1000) {
      // Every step runs even when one before it fails (a server must finish stopping: its workers, its
      // port, its lock); the first failure is thrown once all have run.
      const failures: unknown[] = [];
      const step = async (what: string, fn: () => Promise<unknown> | undefined) => {
        try {
          await fn();
        } catch (err) {
          log.error({ err, step: what }, 'stopping: a step failed; the others go on');
          failures.push(err);
        }
      };
      // Live event streams (SSE) end first: their clients move on at once (to another replica, or to
      // reconnect once this one is back) rather than wait for the running jobs' grace.
      await step('live event streams', () => closeEventStreams(api));
      await step('event stream', () => jetstream?.stop());
      await step('source watch', () => Promise.all(watchers.map((w) => w.stop())));
      await step('scheduler', () => scheduler.drain(graceMs));
      await step('api', () => api.close());
      await step('outbox', () => outbox.stop());
      await step('leadership', () => leadership.close());
      await step('job store', () => store.close());
      await step('server file', () => serverFile.remove());
      await step('data-dir lock', () => lock.release());
      if (failures.length > 0) throw failures[0];
    },
  };
}
