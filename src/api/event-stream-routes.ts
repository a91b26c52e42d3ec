// Live job events over Server-Sent Events: GET /v1/events (every job, filtered) and GET
// /v1/jobs/:id/events with `Accept: text/event-stream` (one job; server.ts hands it over). Each told
// event of the job-event log is one SSE message: `id:` its log position, `event:` its CloudEvent type,
// `data:` the CloudEvent; between them `sluice.job.progress` messages (no id) carry the heartbeats'
// figures. A client that reconnects with Last-Event-ID gets everything after it, then the live stream,
// missing nothing and repeating nothing (event-feed.ts). Docs: docs/notifications.md.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { JOB_STATUSES, type Job, type JobStatus } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { DEFAULT_EVENT_SOURCE, NOTIFICATION_TYPES, toCloudEvent } from '../notify/cloud-event.ts';
import type { EventFeed } from '../notify/event-feed.ts';
import {
  type EventFilter,
  matchesEvent,
  matchesProgress,
  PROGRESS_EVENT_TYPE,
  type StreamEventType,
} from '../notify/event-filter.ts';
import { SseConnection, type SseOptions } from './sse-connection.ts';
import { parseBody } from './validate.ts';

export const EVENTS_ROUTE = '/v1/events';
export const STREAM_EVENT_TYPES = [...NOTIFICATION_TYPES, PROGRESS_EVENT_TYPE] as const;

/** A query value given once, repeated (`type=a&type=b`) or as a comma list (`type=a,b`): one list. */
const listParam = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(item));

const lastEventIdParam = z
  .string()
  .optional()
  .describe('where to resume, for clients that cannot send the Last-Event-ID header');

const EVENTS_QUERY_KEYS = { job: 1, type: 1, pipeline: 1, status: 1, from: 1, lastEventId: 1 };

/**
 * GET /v1/events: every field narrows the stream; `meta.<key>=<value>` matches userMetadata fields.
 * (Exported for the OpenAPI document; `meta.*` is its additionalProperties.)
 */
export const EventsQuery = z
  .object({
    job: listParam(z.string().min(1)).optional().describe('job ids (or unique prefixes)'),
    type: listParam(z.enum(STREAM_EVENT_TYPES)).optional().describe('event types'),
    pipeline: listParam(z.string().min(1)).optional(),
    status: listParam(
      z
        .string()
        .transform((s) => s.toUpperCase())
        .pipe(z.enum(JOB_STATUSES)),
    )
      .optional()
      .describe("the job's status at the event"),
    from: z
      .enum(['start', 'now'])
      .optional()
      .describe("without Last-Event-ID: from the log's start, or (default) from now"),
    lastEventId: lastEventIdParam,
  })
  .catchall(z.string())
  .superRefine((q, ctx) => {
    for (const key of Object.keys(q)) {
      if (key in EVENTS_QUERY_KEYS || /^meta\.[^.]+$/.test(key)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `unknown parameter; use job, type, pipeline, status, from, lastEventId or meta.<key>`,
      });
    }
  });

/** GET /v1/jobs/:id/events with Accept: text/event-stream. */
export const JobEventsStreamQuery = z.strictObject({ lastEventId: lastEventIdParam });

/** The data of a `sluice.job.progress` message. */
export const ProgressMessage = z.object({
  jobId: z.string(),
  status: z.enum(JOB_STATUSES),
  phase: z.string().nullable(),
  progress: z.object({
    percent: z.number(),
    fps: z.number().nullable(),
    speed: z.number().nullable(),
    etaSeconds: z.number().nullable(),
  }),
});

export function wantsEventStream(req: FastifyRequest): boolean {
  return /\btext\/event-stream\b/i.test(req.headers.accept ?? '');
}

export interface EventStreamDeps {
  store: JobStore;
  feed: EventFeed;
  /** A job by id or unique prefix (server.ts's getJob). */
  getJob(idOrPrefix: string): Promise<Job>;
  /** Open event streams at most; past it 503 SERVER_BUSY with Retry-After. */
  maxStreams: number;
  sse: SseOptions;
  /** CloudEvents' `source` (SLUICE_EVENT_SOURCE). */
  source?: string;
}

export interface EventStreams {
  /** Serves one job's stream on this request (GET /v1/jobs/:id/events, Accept: text/event-stream). */
  followJob(req: FastifyRequest, reply: FastifyReply, job: Job): Promise<FastifyReply>;
  /** Open streams now. */
  open(): number;
}

/** The position a client resumes after: Last-Event-ID header, else ?lastEventId; undefined if neither. */
async function resumePosition(req: FastifyRequest, query: string | undefined, store: JobStore) {
  const header = req.headers['last-event-id'];
  const raw = (Array.isArray(header) ? header[0] : header)?.trim() || query?.trim() || undefined;
  if (raw === undefined) return undefined;
  const n = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new SluiceError(
      'INVALID_LAST_EVENT_ID',
      `Last-Event-ID "${raw.slice(0, 40)}" is not an event id (a whole number: the \`id:\` of an event this stream sent)`,
    );
  }
  // An id past the newest event was never sent by any server on this store.
  const newest = (await store.lastEventId()) ?? 0;
  if (n > newest) {
    throw new SluiceError(
      'INVALID_LAST_EVENT_ID',
      `Last-Event-ID ${n} is after the newest event (${newest}); it was not sent by this Sluice (a stream of another installation?)`,
    );
  }
  return n;
}

export function registerEventStreamRoutes(app: FastifyInstance, deps: EventStreamDeps): EventStreams {
  const { store, feed } = deps;
  let open = 0;

  /** Opens the stream and subscribes it to the feed from `after`. */
  const serve = (
    req: FastifyRequest,
    reply: FastifyReply,
    after: number | null,
    filter: EventFilter,
    jobId?: string,
  ) => {
    if (feed.isClosed) {
      throw new SluiceError(
        'SERVER_BUSY',
        'this server is stopping; reconnect (with Last-Event-ID) to another replica, or once it is back',
        { retryAfterSeconds: 5 },
      );
    }
    if (open >= deps.maxStreams) {
      throw new SluiceError(
        'SERVER_BUSY',
        `${open} event streams are open, the most this server keeps (SLUICE_MAX_EVENT_STREAMS); retry later`,
        { retryAfterSeconds: 5 },
      );
    }
    open++;
    const conn = new SseConnection(req, reply, deps.sse);
    const unsubscribe = feed.subscribe({
      after,
      ...(jobId !== undefined ? { jobId } : {}),
      matches: (e) => matchesEvent(filter, e),
      matchesJob: (job) => matchesProgress(filter, job),
      event: (e) => {
        const ce = toCloudEvent(e, deps.source ?? DEFAULT_EVENT_SOURCE);
        if (ce) conn.send({ id: e.id, event: ce.type, data: ce });
      },
      progress: (p) => conn.send({ event: PROGRESS_EVENT_TYPE, data: p }),
      end: () => conn.end(),
    });
    req.log.debug({ url: req.url, after, streams: open }, 'event stream opened');
    conn.onEnd(() => {
      open--;
      unsubscribe();
      req.log.debug({ url: req.url, streams: open }, 'event stream closed');
    });
    return reply;
  };

  app.get(EVENTS_ROUTE, async (req, reply) => {
    const q = parseBody(EventsQuery, req.query, 'query');
    const filter: EventFilter = {};
    if (q.job) {
      // Prefixes resolved once, like every job route: the stream filters on whole ids.
      filter.jobIds = [];
      for (const id of q.job) filter.jobIds.push((await deps.getJob(id)).id);
    }
    if (q.type) filter.types = q.type as StreamEventType[];
    if (q.pipeline) filter.pipelines = q.pipeline;
    if (q.status) filter.statuses = q.status as JobStatus[];
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) if (k.startsWith('meta.')) meta[k.slice(5)] = String(v);
    if (Object.keys(meta).length > 0) filter.meta = meta;
    const resume = await resumePosition(req, q.lastEventId, store);
    const after = resume ?? (q.from === 'start' ? null : await store.lastEventId());
    const one = filter.jobIds?.length === 1 ? filter.jobIds[0] : undefined;
    return serve(req, reply, after, filter, one);
  });

  return {
    open: () => open,
    async followJob(req, reply, job) {
      const q = parseBody(JobEventsStreamQuery, req.query, 'query');
      // Without Last-Event-ID: from the job's first event, so a late subscriber still sees SUBMITTED.
      const after = (await resumePosition(req, q.lastEventId, store)) ?? null;
      return serve(req, reply, after, { jobIds: [job.id] }, job.id);
    },
  };
}
