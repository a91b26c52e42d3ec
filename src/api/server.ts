// The HTTP API (Fastify): jobs, uploads, health, the seed's /jobs/<status> and /jobs/<id>, and the
// Worker API. Every error is problem+json with a stable code.
import fs from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Pipeline } from '../ingest/pipeline.ts';
import type { SkipLog } from '../ingest/skip-log.ts';
import { isJobStatus, JOB_STATUSES, type Job, type JobStatus } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { PoolSettings } from '../jobs/pool-offer.ts';
import type { WorkerTokenStore } from '../jobs/worker-token-store.ts';
import type { MediaInfo } from '../media/media-info.ts';
import { probe as ffprobe } from '../media/probe.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { EventFeed } from '../notify/event-feed.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Ceilings } from '../templates/ceilings.ts';
import { planJob } from '../templates/ladder.ts';
import { parseTemplate } from '../templates/template.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';
import type { ClientLimits } from './client-limits.ts';
import { CONSOLE_ROUTES, registerConsoleRoutes } from './console-routes.ts';
import {
  checkAccess,
  registerSessionRoutes,
  requestAuthenticated,
  SESSION_ROUTE,
} from './console-session.ts';
import { registerEventStreamRoutes, wantsEventStream } from './event-stream-routes.ts';
import {
  INGEST_EVENTS_ROUTE,
  type IngestEventDeps,
  registerIngestEventRoutes,
} from './ingest-event-routes.ts';
import { registerInputRoutes } from './input-routes.ts';
import { registerJobCountsRoute } from './job-counts-route.ts';
import { registerJobRetryRoutes } from './job-retry-routes.ts';
import { jobView } from './job-view.ts';
import { guardLoopbackHost } from './loopback-host.ts';
import { METRICS_ROUTE, READY_ROUTE, registerObservabilityRoutes } from './observability-routes.ts';
import { collectRoutes, PUBLIC_DOC_ROUTES, registerDocsRoutes } from './openapi/docs-routes.ts';
import { registerOutputFileRoutes } from './output-file-routes.ts';
import { registerPipelineRoutes } from './pipeline-routes.ts';
import { PLAN_FILE_ROUTE, registerPlanFileRoute } from './plan-file-route.ts';
import { registerPoolRoutes } from './pool-routes.ts';
import { sendProblem } from './problem.ts';
import { registerQueueRoutes } from './queue-routes.ts';
import { jobCounts, Readiness, type ReadinessOptions } from './readiness.ts';
import { guardClients, resolveClientLimits, serverOptions } from './slow-client-guard.ts';
import { registerTemplateValidateRoute } from './template-validate-route.ts';
import { registerUploadRoute } from './upload-route.ts';
import { parseBody } from './validate.ts';
import { registerWebhookRoutes, type WebhookRouteDeps } from './webhook-routes.ts';
import { OUTPUTS_ROUTE, registerPullRoutes } from './worker-pull-routes.ts';
import { registerWorkerRoutes } from './worker-routes.ts';
import { PARTS_ROUTE, registerSplitRoutes, restitch } from './worker-split-routes.ts';
import { registerWorkerTokenRoutes } from './worker-token-routes.ts';

export interface ApiDeps {
  store: JobStore;
  templates: TemplateRegistry;
  objects: ObjectStore;
  ingest: Ingest;
  scheduler: Scheduler;
  log: Logger;
  defaultTemplate: string;
  leaseMs: number;
  heartbeatSeconds: number;
  retryDelay: (attempt: number) => number;
  version: string;
  /** When set, API calls need `Authorization: Bearer <token>` (health and Worker API excepted). */
  apiToken?: string | null;
  /** Largest upload accepted by PUT /v1/uploads, in bytes. */
  maxUploadBytes?: number;
  /** Timeouts and bounds against slow or numerous clients; the defaults where omitted. */
  clientLimits?: Partial<ClientLimits>;
  /** The ingest records of objects the watcher skipped (GET /v1/ingest/skipped); absent: an empty list. */
  skips?: SkipLog;
  /** Capacity pools, for the pools a queued job is offered to (the job view); absent: none shown. */
  pools?: PoolSettings;
  /** Remote pull workers' tokens: with it, the claim and storage routes of pull workers are served. */
  workerTokens?: WorkerTokenStore;
  /** Which control plane this is among replicas sharing the store, and whether it leads (health). */
  leadership?: { instance: string; isLeader(): boolean };
  /** The role buckets (SLUICE_SOURCE_BUCKET, SLUICE_DESTINATION_BUCKET); default `source`, `destination`. */
  buckets?: { source: string; destination: string };
  /** The probe POST /v1/plan runs (a seam, so a test can count the probes running at once). */
  probe?: (file: string) => Promise<MediaInfo>;
  /** POST /v1/ingest/events (object-store notifications): served when given; it authenticates itself. */
  ingestEvents?: Omit<IngestEventDeps, 'log' | 'apiToken'>;
  /** GET /metrics is served when given (docs/observability.md). */
  metrics?: Metrics;
  /** GET /metrics without the API token (SLUICE_METRICS_PUBLIC); default: behind it like the API. */
  metricsPublic?: boolean;
  /** GET /v1/ready's bounds (timeout per check, how long a result is reused); the defaults where omitted. */
  readiness?: Pick<ReadinessOptions, 'timeoutMs' | 'cacheMs'>;
  /** Webhook subscriptions and the delivery log (webhook-routes.ts): served when given. */
  webhooks?: Omit<WebhookRouteDeps, 'getJob'>;
  /** Live event streams (SSE, event-stream-routes.ts); defaults where omitted. */
  eventStreams?: EventStreamSettings;
  /** The pipelines ingest runs (GET /v1/pipelines, the counts' pipeline names); absent: none shown. */
  pipelines?: Pipeline[];
  /** The server's ceilings, for the attempts GET /v1/pipelines shows; absent: the templates' own. */
  ceilings?: Ceilings;
}

export interface EventStreamSettings {
  /** Open streams at most (SLUICE_MAX_EVENT_STREAMS); default 1000. */
  maxStreams?: number;
  /** The shared feed's poll of the event log and of running jobs' progress; default 300 ms. */
  pollMs?: number;
  /** A keep-alive comment this often; default 15 s. */
  keepAliveMs?: number;
  /** The `retry:` hint to clients; default 3 s. */
  retryMs?: number;
  /** A client that leaves more than this unread is dropped; default 1 MiB. */
  maxBufferedBytes?: number;
  /** CloudEvents' source; default `sluice`. */
  source?: string;
  /** The feed's ring of recent events and its page size (event-feed.ts); tests make them small. */
  ringSize?: number;
  pageSize?: number;
}

export const CreateJob = z.strictObject({
  bucket: z.string().optional(),
  key: z.string().min(1),
  template: z.string().optional(),
  destinationBucket: z.string().optional(),
  userMetadata: z.record(z.string(), z.string()).optional(),
});

export const PlanRequest = z.strictObject({
  bucket: z.string().optional(),
  key: z.string().min(1),
  template: z.string().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

export const ListQuery = z.strictObject({
  status: z.string().optional(),
  pipeline: z.string().min(1).optional().describe('Only jobs of this pipeline (exact name)'),
  q: z
    .string()
    .max(200)
    .optional()
    .describe(
      'Text the job id, the input key or a userMetadata value contains (case folded, taken literally)',
    ),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const SkippedQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function statusOf(value: string | undefined): JobStatus | undefined {
  if (value === undefined || value === '') return undefined;
  const upper = value.toUpperCase();
  if (!isJobStatus(upper)) {
    throw new SluiceError(
      'INVALID_STATUS',
      `unknown status "${value}"; use one of ${JOB_STATUSES.join(', ')}`,
    );
  }
  return upper;
}

const feeds = new WeakMap<FastifyInstance, EventFeed>();

/**
 * Ends every live event stream of a server built by buildApi and refuses new ones (503): the first step
 * of a stop, so clients move on at once rather than wait for the running jobs' grace period.
 */
export async function closeEventStreams(app: FastifyInstance): Promise<void> {
  await feeds.get(app)?.close();
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const { store, objects, ingest, scheduler, templates } = deps;
  const probe = deps.probe ?? ffprobe;
  const view = (job: Job) => jobView(job, deps.pools);
  const limits = resolveClientLimits(deps.clientLimits);
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 1 << 20,
    // One line per request (heartbeats every 2 s per job) drowns the job events at info: requests are
    // logged at debug instead (onResponse below).
    logController: new LogController({ disableRequestLogging: true }),
    ...serverOptions(limits),
  }) as unknown as FastifyInstance;
  // Every route from here on, for the OpenAPI document (openapi/route-docs.ts describes each).
  const routes = collectRoutes(app);
  app.setErrorHandler((err, req, reply) => sendProblem(reply, err, req));
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug(
      { method: req.method, url: req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });
  const guard = guardClients(app, limits, {
    uploads: ['/v1/uploads/*', PLAN_FILE_ROUTE],
    streams: [OUTPUTS_ROUTE, PARTS_ROUTE],
  });
  const apiToken = deps.apiToken;
  // Probes (health, readiness) carry no token, and neither does a browser opening the API reference.
  const publicRoutes = new Set([
    READY_ROUTE,
    SESSION_ROUTE,
    ...PUBLIC_DOC_ROUTES,
    ...(deps.metricsPublic ? [METRICS_ROUTE] : []),
  ]);
  // An open server answers loopback names only (DNS rebinding; loopback-host.ts).
  if (!apiToken) guardLoopbackHost(app);
  const consoleRoutes = new Set<string>(CONSOLE_ROUTES);
  // Every route but the public ones: the bearer token or the console's session cookie (when the server
  // has a token), and no cross-site changes (console-session.ts).
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/v1/health' || req.url.startsWith('/v1/worker/')) return;
    if (publicRoutes.has(req.routeOptions.url ?? '')) return;
    if (deps.ingestEvents && req.routeOptions.url === INGEST_EVENTS_ROUTE) return;
    // The console's pages decide themselves (the login page needs no token).
    if (consoleRoutes.has(req.routeOptions.url ?? '')) return;
    try {
      checkAccess(req, apiToken);
    } catch (err) {
      return sendProblem(reply, err, req);
    }
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, new SluiceError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url}`), req),
  );

  /** A job by id, or by a prefix of its id that only one job has (what a user copies from a table). */
  const getJob = async (idOrPrefix: string) => {
    const job = await store.get(idOrPrefix);
    if (job) return job;
    const matches = idOrPrefix.length >= 4 ? await store.findByIdPrefix(idOrPrefix, 2) : [];
    if (matches.length > 1) {
      throw new SluiceError(
        'AMBIGUOUS_JOB_ID',
        `more than one job id starts with ${idOrPrefix}; give more of the id (\`sluice jobs\` lists them)`,
      );
    }
    if (matches[0]) return matches[0];
    throw new SluiceError('JOB_NOT_FOUND', `no job with id ${idOrPrefix}`);
  };

  // Liveness: the process answers. The job counts are a courtesy, left out when the store does not answer
  // in time (readiness, GET /v1/ready, is what reports the store down).
  app.get('/v1/health', async () => {
    const counts = await jobCounts(store);
    const lead = deps.leadership;
    return {
      status: 'ok',
      version: deps.version,
      ...(counts ? { jobs: counts } : {}),
      ...(lead ? { leader: lead.isLeader(), instance: lead.instance } : {}),
    };
  });

  registerDocsRoutes(app, { routes, version: deps.version });
  registerSessionRoutes(app, apiToken);
  registerObservabilityRoutes(app, {
    metrics: deps.metrics,
    readiness: new Readiness({
      store,
      objects,
      buckets: [deps.buckets?.source ?? 'source', deps.buckets?.destination ?? 'destination'],
      ...deps.readiness,
    }),
  });
  if (deps.webhooks) registerWebhookRoutes(app, { ...deps.webhooks, getJob });
  registerPoolRoutes(app, store, deps.pools);
  registerInputRoutes(app, store);
  if (deps.ingestEvents) {
    registerIngestEventRoutes(app, {
      ...deps.ingestEvents,
      apiToken,
      log: deps.log.child({ component: 'ingest-events' }),
    });
  }

  app.get('/v1/jobs', async (req) => {
    const q = parseBody(ListQuery, req.query, 'query');
    const jobs = await store.list({
      status: statusOf(q.status),
      limit: q.limit,
      ...(q.pipeline !== undefined ? { pipeline: q.pipeline } : {}),
      ...(q.q ? { q: q.q } : {}),
    });
    return { jobs: jobs.map(view) };
  });

  // Objects in a watched bucket that made no job, and why (unknown suffix, temp name, symlink, settings
  // error, refused key): newest first. Under /v1/ingest because they are ingest's verdicts, not jobs.
  app.get('/v1/ingest/skipped', async (req) => {
    const q = parseBody(SkippedQuery, req.query, 'query');
    return { skipped: deps.skips ? await deps.skips.list(q.limit) : [] };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (req) => view(await getJob(req.params.id)));
  // A chunked job's parts (chunks, audio, stitch), oldest first; an empty list for any other job.
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/parts', async (req) => {
    const job = await getJob(req.params.id);
    return { parts: (await store.listParts(job.id)).map(view) };
  });
  registerJobCountsRoute(app, { store, pipelines: (deps.pipelines ?? []).map((p) => p.name) });
  registerOutputFileRoutes(app, { objects, getJob });
  registerQueueRoutes(app, {
    store,
    ...(deps.pools ? { pools: deps.pools } : {}),
    ...(deps.workerTokens ? { workerTokens: deps.workerTokens } : {}),
  });
  registerPipelineRoutes(app, {
    pipelines: deps.pipelines ?? [],
    templates,
    ...(deps.ceilings ? { ceilings: deps.ceilings } : {}),
  });
  registerJobRetryRoutes(app, { store, view, poke: () => scheduler.poke() });

  // One feed per server process, however many streams are open; closed (ending every stream) when the
  // server closes, so a stop never waits on a client.
  const es = deps.eventStreams ?? {};
  const feed = new EventFeed(store, deps.log.child({ component: 'event-feed' }), {
    ...(es.pollMs !== undefined ? { pollMs: es.pollMs } : {}),
    ...(es.ringSize !== undefined ? { ringSize: es.ringSize } : {}),
    ...(es.pageSize !== undefined ? { pageSize: es.pageSize } : {}),
  });
  feeds.set(app, feed);
  app.addHook('preClose', async () => feed.close());
  const streams = registerEventStreamRoutes(app, {
    store,
    feed,
    getJob,
    maxStreams: es.maxStreams ?? 1000,
    sse: {
      retryMs: es.retryMs ?? 3000,
      keepAliveMs: es.keepAliveMs ?? 15_000,
      maxBufferedBytes: es.maxBufferedBytes ?? 1 << 20,
    },
    ...(es.source ? { source: es.source } : {}),
  });

  // The job's history as JSON; with Accept: text/event-stream, its live event stream instead.
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/events', async (req, reply) => {
    const job = await getJob(req.params.id);
    if (wantsEventStream(req)) return streams.followJob(req, reply, job);
    return { events: await store.events(job.id) };
  });

  const sourceBucket = deps.buckets?.source ?? 'source';
  app.post('/v1/jobs', async (req, reply) => {
    const { bucket = sourceBucket, ...rest } = parseBody(CreateJob, req.body);
    const body = { bucket, ...rest };
    const destinationBucket = body.destinationBucket ?? deps.buckets?.destination;
    const object = await objects.stat(body.bucket, validateObjectKey(body.key));
    if (!object)
      throw new SluiceError('OBJECT_NOT_FOUND', `object ${body.bucket}/${body.key} does not exist`);
    const template = body.template ?? deps.defaultTemplate;
    const { job, created } = await ingest.createJob({
      source: 'request',
      pipeline: 'api',
      scope: `api:${template}`,
      bucket: object.bucket,
      key: object.key,
      size: object.size,
      etag: object.etag,
      template,
      ...(destinationBucket ? { destinationBucket } : {}),
      ...(body.userMetadata ? { userMetadata: body.userMetadata } : {}),
    });
    return reply.code(created ? 201 : 200).send(view(job));
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', async (req) => {
    const job = await getJob(req.params.id);
    // A part of a chunked job is canceled with the whole: its parent, then every part (split-jobs.ts).
    return view(await scheduler.cancel(job.parentId ?? job.id, 'canceled through the API'));
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/retry', async (req) => {
    const { id, parentId } = await getJob(req.params.id);
    if (parentId) {
      throw new SluiceError(
        'INVALID_TRANSITION',
        `job ${id} is a part of the chunked job ${parentId}; retry that job, which runs again only its parts without a receipt`,
        { parentId },
      );
    }
    const job = await store.transition(id, { type: 'retry', reason: 'retried through the API' }, new Date());
    scheduler.poke();
    return view(job);
  });

  registerUploadRoute(app, {
    objects,
    ingest,
    templates,
    maxUploadBytes: deps.maxUploadBytes ?? Number.POSITIVE_INFINITY,
    bucket: sourceBucket,
  });

  app.get('/v1/templates', async () => ({ templates: await templates.list() }));
  registerTemplateValidateRoute(app);
  app.get<{ Params: { name: string } }>('/v1/templates/:name', async (req) => templates.get(req.params.name));

  // Dry run: what a given object would get under a template, before anything runs.
  app.post('/v1/plan', async (req) => {
    const { bucket = sourceBucket, ...rest } = parseBody(PlanRequest, req.body);
    const body = { bucket, ...rest };
    const template = body.settings
      ? parseTemplate({ name: 'inline', ...body.settings }, 'settings')
      : await templates.get(body.template ?? deps.defaultTemplate);
    const object = await objects.stat(body.bucket, validateObjectKey(body.key));
    if (!object)
      throw new SluiceError('OBJECT_NOT_FOUND', `object ${body.bucket}/${body.key} does not exist`);
    const dir = await objects.workDir('plan-');
    try {
      const file = path.join(dir, 'input');
      await objects.download(body.bucket, body.key, file);
      const media = await guard.probes.run(() => probe(file, undefined, `${body.bucket}/${body.key}`));
      return { template: template.name, input: media, plan: planJob(template, media) };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  // The web console: its pages and assets need the token's session where the API needs the token.
  registerConsoleRoutes(app, {
    authenticated: (req) => requestAuthenticated(req, apiToken),
  });

  registerPlanFileRoute(app, {
    objects,
    templates,
    defaultTemplate: deps.defaultTemplate,
    maxUploadBytes: deps.maxUploadBytes ?? Number.POSITIVE_INFINITY,
    probes: guard.probes,
    probe,
  });

  // Seed 002's routes: /jobs/<STATUS> lists, /jobs/<id> shows one job.
  app.get<{ Params: { x: string } }>('/jobs/:x', async (req) => {
    const x = req.params.x;
    if (isJobStatus(x.toUpperCase())) return { jobs: (await store.list({ status: statusOf(x) })).map(view) };
    return view(await getJob(x));
  });

  registerWorkerRoutes(app, {
    store,
    leaseMs: deps.leaseMs,
    heartbeatSeconds: deps.heartbeatSeconds,
    retryDelay: deps.retryDelay,
    onFinished: () => scheduler.poke(),
    onPartsBroken: (job, token, parts, code) => restitch(store, objects, job, token, parts, code),
  });
  registerSplitRoutes(app, { store, objects, onWork: () => scheduler.poke() });
  if (deps.workerTokens) {
    registerWorkerTokenRoutes(app, deps.workerTokens, deps.pools);
    registerPullRoutes(app, {
      store,
      tokens: deps.workerTokens,
      objects,
      leaseMs: deps.leaseMs,
      heartbeatSeconds: deps.heartbeatSeconds,
      accepting: () => scheduler.accepting(),
      onWork: (listener) => scheduler.onWork(listener),
    });
  }
  return app;
}
