// The description of every route the API registers, keyed `METHOD /path` exactly as the route is
// registered with Fastify (`:id` parameters, a trailing `*`). GET /v1/openapi.json and the reference page
// GET /v1/docs are made from it, and test/api/openapi.test.ts fails, naming the route, for any route
// registered without an entry here.
//
// Adding a route: add its entry below, next to its neighbours (one tag per area). Use the zod schemas the
// handler itself parses (export them from the route's file) for `query` and `body`, so the document is
// the validation; write a response schema in route-doc.ts when none exists; list the error codes it may
// answer (problem+json, status from src/errors.ts; UNAUTHORIZED is implied by auth 'api-token'). HEAD
// routes Fastify adds for each GET need no entry. A route that answers another type by content
// negotiation (SSE for `Accept: text/event-stream`) lists it in its response's `alsoContentTypes`.
// A route that must be open without the API token is also in server.ts's `publicRoutes`.
//
// A function, not a constant: the route modules import this file's consumers, and the schemas are read
// only when a document is made (no import cycle at module load).
import { z } from 'zod';
import { SignIn } from '../console-session.ts';
import { EventsQuery, JobEventsStreamQuery } from '../event-stream-routes.ts';
import { ListQuery as InputListQuery } from '../input-routes.ts';
import { RetryPipeline } from '../job-retry-routes.ts';
import { PlanFileQuery } from '../plan-file-route.ts';
import { QueueQuery } from '../queue-routes.ts';
import { CreateJob, ListQuery, PlanRequest, SkippedQuery } from '../server.ts';
import {
  CreateWebhookBody,
  DeliveriesQuery,
  RotateSecretBody,
  UpdateWebhookBody,
} from '../webhook-routes.ts';
import { Claim, Presign, Publish } from '../worker-pull-routes.ts';
import { Complete, Fail, Heartbeat, Release } from '../worker-routes.ts';
import { Split } from '../worker-split-routes.ts';
import { CreateToken } from '../worker-token-routes.ts';
import {
  AssignmentSchema,
  DeliveryListSchema,
  DeliverySchema,
  HealthSchema,
  HeartbeatAnswerSchema,
  InputViewSchema,
  JobEventsSchema,
  JobListSchema,
  JobViewSchema,
  PingSchema,
  PlanSchema,
  PoolDemandSchema,
  ReadySchema,
  type RouteDoc,
  SkippedSchema,
  StatusSchema,
  TemplateSchema,
  UploadResultSchema,
  WebhookListSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
  WorkerTokenSchema,
} from './route-doc.ts';

const JOB_ID = 'A job id, or a prefix of one that only one job has';
const ATTEMPT = "The job id of the caller's attempt";
const WEBHOOK_ID = 'A webhook subscription id (`wh_…`)';
const DELIVERY_ID = 'A delivery id (`dlv_…`)';
const LEASE_ERRORS = ['LEASE_LOST', 'JOB_NOT_FOUND', 'VERSION_CONFLICT', 'VALIDATION_FAILED'] as const;

export function routeDocs(): Record<string, RouteDoc> {
  return {
    // Operations: probes, metrics, this reference.
    'GET /v1/health': {
      operationId: 'health',
      summary: 'Liveness: the server answers',
      description:
        'Always 200 while the process serves requests. Job counts are included when the job store answers in time. Never needs a token.',
      tag: 'Operations',
      auth: 'none',
      responses: { 200: { description: 'Alive', schema: HealthSchema } },
    },
    'GET /v1/ready': {
      operationId: 'ready',
      summary: 'Readiness: the job store answers and the role buckets are reachable',
      description:
        'Checked with a timeout and reused for about a second. Never needs a token; a 503 names what is down.',
      tag: 'Operations',
      auth: 'none',
      responses: { 200: { description: 'Ready', schema: ReadySchema } },
      errors: ['JOB_STORE_UNAVAILABLE', 'BUCKETS_UNAVAILABLE'],
    },
    'GET /metrics': {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this control plane',
      description:
        'Text exposition format. Behind the API token where one is needed, unless SLUICE_METRICS_PUBLIC=true (docs/observability.md).',
      tag: 'Operations',
      auth: 'api-token',
      responses: { 200: { description: 'Metrics', contentType: 'text/plain' } },
    },
    'GET /v1/openapi.json': {
      operationId: 'openApi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'Operations',
      auth: 'none',
      responses: { 200: { description: 'The document', contentType: 'application/json' } },
    },
    'GET /v1/docs': {
      operationId: 'apiReference',
      summary: 'The API reference as an HTML page',
      tag: 'Operations',
      auth: 'none',
      responses: { 200: { description: 'The page', contentType: 'text/html' } },
    },

    // The console's session (docs/console.md#api-for-the-console).
    'GET /v1/session': {
      operationId: 'getSession',
      summary: 'Whether this server needs a sign-in, and whether this request has one',
      description:
        '`required`: the server has an API token (it listens beyond loopback). `authenticated`: the request carries the bearer token or a valid session cookie (always true on a server without a token).',
      tag: 'Console session',
      auth: 'none',
      responses: {
        200: {
          description: 'The session state',
          schema: z.object({ required: z.boolean(), authenticated: z.boolean() }),
        },
      },
    },
    'POST /v1/session': {
      operationId: 'signIn',
      summary: 'Sign in with the API token: sets the `sluice_session` cookie',
      description:
        "The cookie (HttpOnly, SameSite=Strict, Path=/, 12 hours; Secure over https or behind X-Forwarded-Proto: https) is `v1.<expiresAtSeconds>.<HMAC-SHA256 keyed by the token>`, never the token; rotating the token ends every session. It authenticates every route the bearer token does; a POST, PUT, PATCH or DELETE authenticated by it must carry this server's `Origin` (or `Sec-Fetch-Site: same-origin`), else 403 CROSS_SITE_REQUEST. On a server without a token: 204 and no cookie.",
      tag: 'Console session',
      auth: 'none',
      body: { schema: SignIn },
      responses: { 204: { description: 'Signed in (Set-Cookie)' } },
      errors: ['UNAUTHORIZED', 'VALIDATION_FAILED'],
    },
    'DELETE /v1/session': {
      operationId: 'signOut',
      summary: 'Sign out: clears the session cookie',
      tag: 'Console session',
      auth: 'none',
      responses: { 204: { description: 'Cookie cleared' } },
    },

    // The web console (docs/console.md): pages for a browser, not API calls.
    'GET /': {
      operationId: 'consoleRedirect',
      summary: 'Redirect to the web console',
      tag: 'Console',
      auth: 'none',
      responses: { 302: { description: 'To /console/' } },
    },
    'GET /console': {
      operationId: 'consoleRedirectSlash',
      summary: 'Redirect to the web console',
      tag: 'Console',
      auth: 'none',
      responses: { 302: { description: 'To /console/' } },
    },
    'GET /console/': {
      operationId: 'console',
      summary: 'The web console (or its login page when a token is needed and no session is open)',
      tag: 'Console',
      auth: 'none',
      responses: { 200: { description: 'The page', contentType: 'text/html' } },
      errors: ['CONSOLE_NOT_BUILT'],
    },
    'GET /console/assets/:name': {
      operationId: 'consoleAsset',
      summary: "A file of the console's build (content-hashed name, cached for ever)",
      description: "Served only with a session when the server needs a token, except the login page's own.",
      tag: 'Console',
      auth: 'none',
      params: { name: 'The file name' },
      responses: { 200: { description: 'The file', contentType: 'application/octet-stream' } },
      errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND'],
    },
    'GET /console/vendor/:name': {
      operationId: 'consoleVendor',
      summary: 'The players the job page loads: hls.min.js, dash.all.min.js',
      tag: 'Console',
      auth: 'none',
      params: { name: 'hls.min.js or dash.all.min.js' },
      responses: { 200: { description: 'The script', contentType: 'text/javascript' } },
      errors: ['ROUTE_NOT_FOUND'],
    },
    'GET /console/*': {
      operationId: 'consoleNotFound',
      summary: 'Any other path under /console/: 404',
      tag: 'Console',
      auth: 'none',
      responses: {},
      errors: ['ROUTE_NOT_FOUND'],
    },

    // Jobs.
    'GET /v1/jobs': {
      operationId: 'listJobs',
      summary: 'List jobs, newest first',
      tag: 'Jobs',
      auth: 'api-token',
      query: ListQuery,
      responses: { 200: { description: 'Jobs', schema: JobListSchema } },
      errors: ['INVALID_STATUS', 'VALIDATION_FAILED'],
    },
    'POST /v1/jobs': {
      operationId: 'createJob',
      summary: 'Make a job for an object already in a bucket',
      description: 'Idempotent per object version and template: the same request returns the same job (200).',
      tag: 'Jobs',
      auth: 'api-token',
      body: { schema: CreateJob },
      responses: {
        201: { description: 'Job made', schema: JobViewSchema },
        200: { description: 'The job this object version already had', schema: JobViewSchema },
      },
      errors: [
        'VALIDATION_FAILED',
        'OBJECT_NOT_FOUND',
        'INVALID_OBJECT_KEY',
        'TEMPLATE_NOT_FOUND',
        'INVALID_DESTINATION',
        'JOB_CONFLICT',
      ],
    },
    'GET /v1/jobs/:id': {
      operationId: 'getJob',
      summary: 'One job: status, progress, media info, outputs, error',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: JOB_ID },
      responses: { 200: { description: 'The job', schema: JobViewSchema } },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID'],
    },
    'GET /v1/jobs/:id/events': {
      operationId: 'getJobEvents',
      summary: "A job's events, oldest first; with Accept: text/event-stream, its live event stream",
      description:
        "Without `Accept: text/event-stream`: the job's history as JSON. With it: Server-Sent Events from " +
        "the job's first event (or after `Last-Event-ID` / `lastEventId`), then live: `id:` the log " +
        'position, `event:` the CloudEvent type, `data:` the CloudEvent; `sluice.job.progress` messages ' +
        '(no id) carry progress between events (docs/notifications.md#server-sent-events).',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: JOB_ID },
      query: JobEventsStreamQuery,
      responses: {
        200: {
          description: 'Events (JSON), or the live event stream (text/event-stream)',
          schema: JobEventsSchema,
          alsoContentTypes: ['text/event-stream'],
        },
      },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID', 'INVALID_LAST_EVENT_ID', 'SERVER_BUSY'],
    },
    'GET /v1/events': {
      operationId: 'streamEvents',
      summary: "Every job's live events and progress (Server-Sent Events), filtered",
      description:
        'A text/event-stream of told job events (and `sluice.job.progress` messages), from now, from the ' +
        'log start (`from=start`) or after `Last-Event-ID` / `lastEventId`. Filters narrow it: `job`, ' +
        '`type`, `pipeline`, `status` (each repeatable or a comma list) and `meta.<key>=<value>` on ' +
        'userMetadata (any number of them). See docs/notifications.md#server-sent-events.',
      tag: 'Jobs',
      auth: 'api-token',
      query: EventsQuery,
      responses: { 200: { description: 'The live event stream', contentType: 'text/event-stream' } },
      errors: [
        'VALIDATION_FAILED',
        'JOB_NOT_FOUND',
        'AMBIGUOUS_JOB_ID',
        'INVALID_LAST_EVENT_ID',
        'SERVER_BUSY',
      ],
    },
    // Webhooks (docs/notifications.md#webhooks).
    'POST /v1/webhooks': {
      operationId: 'createWebhook',
      summary: 'Subscribe a URL to job events (Standard Webhooks)',
      description:
        'The URL is checked: private, loopback and link-local addresses are refused unless SLUICE_WEBHOOK_ALLOW_PRIVATE. The signing secret is in this answer only.',
      tag: 'Webhooks',
      auth: 'api-token',
      body: { schema: CreateWebhookBody },
      responses: { 201: { description: 'Made, with its secret', schema: WebhookWithSecretSchema } },
      errors: ['WEBHOOK_INVALID', 'WEBHOOK_TARGET_REFUSED'],
    },
    'GET /v1/webhooks': {
      operationId: 'listWebhooks',
      summary: 'Webhook subscriptions (never their secrets)',
      tag: 'Webhooks',
      auth: 'api-token',
      responses: { 200: { description: 'Subscriptions', schema: WebhookListSchema } },
    },
    'GET /v1/webhooks/:id': {
      operationId: 'getWebhook',
      summary: 'One webhook subscription',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      responses: { 200: { description: 'The subscription', schema: WebhookSchema } },
      errors: ['WEBHOOK_NOT_FOUND'],
    },
    'PATCH /v1/webhooks/:id': {
      operationId: 'updateWebhook',
      summary: 'Change the URL, filters or description; enable or disable',
      description: "Disabling discards the subscription's pending deliveries.",
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      body: { schema: UpdateWebhookBody },
      responses: { 200: { description: 'The subscription', schema: WebhookSchema } },
      errors: ['WEBHOOK_NOT_FOUND', 'WEBHOOK_INVALID', 'WEBHOOK_TARGET_REFUSED'],
    },
    'DELETE /v1/webhooks/:id': {
      operationId: 'deleteWebhook',
      summary: 'Remove a subscription; its pending deliveries are discarded',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      responses: { 200: { description: 'Removed', schema: z.looseObject({}) } },
      errors: ['WEBHOOK_NOT_FOUND'],
    },
    'POST /v1/webhooks/:id/rotate-secret': {
      operationId: 'rotateWebhookSecret',
      summary: 'A new signing secret; the previous one keeps signing too during the overlap',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      body: { schema: RotateSecretBody, optional: true },
      responses: {
        200: { description: 'The subscription, with its new secret', schema: WebhookWithSecretSchema },
      },
      errors: ['WEBHOOK_NOT_FOUND', 'WEBHOOK_INVALID'],
    },
    'POST /v1/webhooks/:id/test': {
      operationId: 'testWebhook',
      summary: 'Send a signed `sluice.webhook.test` ping now; the answer is its outcome',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      responses: { 200: { description: 'What the target answered', schema: PingSchema } },
      errors: ['WEBHOOK_NOT_FOUND', 'WEBHOOK_DISABLED', 'WEBHOOK_TARGET_REFUSED'],
    },
    'GET /v1/webhooks/:id/deliveries': {
      operationId: 'listWebhookDeliveries',
      summary: "A subscription's delivery log, newest first, with every attempt",
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: WEBHOOK_ID },
      query: DeliveriesQuery,
      responses: { 200: { description: 'Deliveries', schema: DeliveryListSchema } },
      errors: ['WEBHOOK_NOT_FOUND', 'VALIDATION_FAILED'],
    },
    'GET /v1/jobs/:id/deliveries': {
      operationId: 'listJobDeliveries',
      summary: "A job's deliveries to every sink (webhooks, email, JetStream)",
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: JOB_ID },
      responses: { 200: { description: 'Deliveries', schema: DeliveryListSchema } },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID'],
    },
    'GET /v1/deliveries/:id': {
      operationId: 'getDelivery',
      summary: 'One delivery: the event as sent and its attempts',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: DELIVERY_ID },
      responses: { 200: { description: 'The delivery', schema: DeliverySchema } },
      errors: ['DELIVERY_NOT_FOUND'],
    },
    'POST /v1/deliveries/:id/redeliver': {
      operationId: 'redeliver',
      summary: 'Send a delivery again, now (the same event id, so receivers still deduplicate)',
      tag: 'Webhooks',
      auth: 'api-token',
      params: { id: DELIVERY_ID },
      responses: { 202: { description: 'Due now', schema: DeliverySchema } },
      errors: ['DELIVERY_NOT_FOUND', 'WEBHOOK_NOT_FOUND', 'WEBHOOK_DISABLED'],
    },
    'POST /v1/jobs/:id/cancel': {
      operationId: 'cancelJob',
      summary: 'Cancel a queued or running job',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: JOB_ID },
      responses: { 200: { description: 'The job, CANCELED', schema: JobViewSchema } },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID', 'INVALID_TRANSITION'],
    },
    'GET /v1/jobs/counts': {
      operationId: 'countJobs',
      summary: 'How many jobs are in each status, and the pipeline names jobs can be filtered by',
      description:
        '`pipelines`: the configured ones, then any other name jobs carry (`api` for POST /v1/jobs).',
      tag: 'Jobs',
      auth: 'api-token',
      responses: {
        200: {
          description: 'Counts',
          schema: z.object({
            counts: z.record(z.string(), z.number().int()),
            pipelines: z.array(z.string()),
            byPipeline: z
              .record(z.string(), z.record(z.string(), z.number().int()))
              .describe('The same counts for each pipeline of `pipelines`'),
          }),
        },
      },
    },
    'POST /v1/jobs/retry': {
      operationId: 'retryPipelineJobs',
      summary: 'Run every ERROR job of a pipeline again',
      description: `Each job is retried on its own; one that changed meanwhile (retried by someone else) is listed in \`failed\` with its code, the rest go ahead. At most 1000 jobs per request; \`more\` says whether to send it again.`,
      tag: 'Jobs',
      auth: 'api-token',
      body: { schema: RetryPipeline },
      responses: {
        200: {
          description: 'The jobs retried, and those that could not be',
          schema: z.object({
            retried: z.array(JobViewSchema),
            failed: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })),
            more: z.boolean().describe('the batch was full: send the request again for the next ones'),
          }),
        },
      },
      errors: ['VALIDATION_FAILED'],
    },
    'GET /v1/jobs/:id/files/*': {
      operationId: 'getJobFile',
      summary: "A file of the job's outputs (HEAD too), with byte ranges",
      description:
        "The object `<destination.prefix>/<path>` in the job's destination bucket: relative URLs in master.m3u8, manifest.mpd and sprites.vtt resolve here. One `Range: bytes=a-b`, `a-` or `-n` is answered 206 with Content-Range; several ranges get the whole file (200). Content-Type from the name; ETag and Last-Modified; If-None-Match answers 304.",
      tag: 'Jobs',
      auth: 'api-token',
      wildcard: 'path',
      params: {
        id: JOB_ID,
        path: "The file's path under the job's output prefix (`master.m3u8`, `v/<version>/…`)",
      },
      responses: {
        200: { description: 'The file', contentType: 'application/octet-stream' },
        206: { description: 'The range asked for', contentType: 'application/octet-stream' },
        304: { description: 'Not modified (If-None-Match)' },
      },
      errors: [
        'JOB_NOT_FOUND',
        'AMBIGUOUS_JOB_ID',
        'INVALID_OBJECT_KEY',
        'OUTPUT_NOT_FOUND',
        'RANGE_NOT_SATISFIABLE',
        'SYMLINK_REFUSED',
      ],
    },
    'GET /v1/queue': {
      operationId: 'getQueue',
      summary: 'The queued jobs in claim order, and each pool with its running jobs and workers',
      description:
        'Runnable SUBMITTED jobs by priority (highest first), then age, each with its `position` (1 is claimed next). Each pool: its demand (as GET /v1/pools), `runningJobs` and the remote worker tokens of the pool (`workers`).',
      tag: 'Pools and workers',
      auth: 'api-token',
      query: QueueQuery,
      responses: {
        200: {
          description: 'The queue',
          schema: z.object({
            jobs: z.array(JobViewSchema.extend({ position: z.number().int() })),
            pools: z.array(
              PoolDemandSchema.extend({
                runningJobs: z.array(
                  z.object({
                    id: z.string(),
                    key: z.string(),
                    phase: z.string().nullable(),
                    percent: z.number(),
                  }),
                ),
                workers: z.array(
                  z.object({
                    id: z.string(),
                    label: z.string().nullable(),
                    lastUsedAt: z.string().nullable(),
                    revokedAt: z.string().nullable(),
                  }),
                ),
              }),
            ),
          }),
        },
      },
      errors: ['VALIDATION_FAILED'],
    },
    'POST /v1/jobs/:id/retry': {
      operationId: 'retryJob',
      summary: 'Run an ERROR or CANCELED job again, with a fresh set of attempts',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: JOB_ID },
      responses: { 200: { description: 'The job, SUBMITTED', schema: JobViewSchema } },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID', 'INVALID_TRANSITION'],
    },
    'GET /jobs/:x': {
      operationId: 'legacyJobs',
      summary: 'Jobs of a status (`/jobs/COMPLETE`), or one job by id (`/jobs/<id>`)',
      description: 'The first API, kept as it was; /v1/jobs is the same with filters.',
      tag: 'Jobs',
      auth: 'api-token',
      params: { x: 'A status (SUBMITTED, PROGRESSING, COMPLETE, ERROR, CANCELED) or a job id' },
      responses: {
        200: {
          description: 'Jobs of the status, or the job',
          schema: z.union([JobListSchema, JobViewSchema]),
        },
      },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID'],
    },
    'GET /v1/inputs': {
      operationId: 'listInputs',
      summary: 'Inputs (object versions) of the most recent jobs, with their fan-out',
      tag: 'Jobs',
      auth: 'api-token',
      query: InputListQuery,
      responses: { 200: { description: 'Inputs', schema: z.object({ inputs: z.array(InputViewSchema) }) } },
      errors: ['VALIDATION_FAILED'],
    },
    'GET /v1/inputs/:id': {
      operationId: 'getInput',
      summary: 'One input: the jobs one object version made, one per pipeline',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: 'An input id (in_ and 16 hex digits; a job shows it as inputId)' },
      responses: { 200: { description: 'The input', schema: InputViewSchema } },
      errors: ['INPUT_NOT_FOUND'],
    },

    // Uploads and ingest.
    'PUT /v1/uploads/*': {
      operationId: 'upload',
      summary: 'Upload a file into the source bucket; it becomes jobs at once',
      description:
        'The body is stored as raw bytes whatever its content type. Every check runs before the object becomes visible: a refused upload stores nothing.',
      tag: 'Uploads and ingest',
      auth: 'api-token',
      wildcard: 'key',
      params: { key: 'The object key (may contain /), percent-encoded once' },
      query: z.object({ template: z.string().optional().describe('A template instead of the pipeline’s') }),
      body: { contentType: 'application/octet-stream' },
      responses: { 201: { description: 'Stored and ingested', schema: UploadResultSchema } },
      errors: [
        'INVALID_OBJECT_KEY',
        'UPLOAD_KEY_RESERVED',
        'TEMPLATE_NOT_FOUND',
        'NO_MATCHING_PIPELINE',
        'PAYLOAD_TOO_LARGE',
        'INPUT_EMPTY',
        'UPLOAD_INCOMPLETE',
        'REQUEST_TOO_SLOW',
        'SERVER_BUSY',
      ],
    },
    'POST /v1/ingest/events': {
      operationId: 'ingestEvents',
      summary: 'Object-store notifications: S3 (through SNS), MinIO, CloudEvents, OCI Events',
      description: 'Served when configured; authenticates itself (docs/ingest-events.md).',
      tag: 'Uploads and ingest',
      auth: 'ingest-token',
      body: { contentType: 'application/json' },
      responses: {
        200: { description: 'Taken (a summary of the jobs made)', schema: z.record(z.string(), z.unknown()) },
      },
      errors: [
        'EVENT_MALFORMED',
        'EVENT_FORMAT_UNSUPPORTED',
        'INGEST_UNAUTHORIZED',
        'INGEST_SIGNATURE_INVALID',
        'SNS_TOPIC_NOT_ALLOWED',
        'SNS_UNREACHABLE',
        'PAYLOAD_TOO_LARGE',
      ],
    },
    'GET /v1/ingest/skipped': {
      operationId: 'listSkipped',
      summary: 'Objects in a watched bucket that made no job, and why; newest first',
      tag: 'Uploads and ingest',
      auth: 'api-token',
      query: SkippedQuery,
      responses: { 200: { description: 'Skipped objects', schema: SkippedSchema } },
      errors: ['VALIDATION_FAILED'],
    },

    // Templates and plans.
    'GET /v1/templates': {
      operationId: 'listTemplates',
      summary: 'Built-in and user templates',
      tag: 'Templates',
      auth: 'api-token',
      responses: { 200: { description: 'Templates', schema: z.object({ templates: z.array(z.unknown()) }) } },
    },
    'GET /v1/templates/:name': {
      operationId: 'getTemplate',
      summary: 'One template, in full',
      tag: 'Templates',
      auth: 'api-token',
      params: { name: 'The template name' },
      responses: { 200: { description: 'The template', schema: TemplateSchema } },
      errors: ['TEMPLATE_NOT_FOUND', 'INVALID_TEMPLATE'],
    },
    'POST /v1/templates/validate': {
      operationId: 'validateTemplate',
      summary: 'Check a template document; answers it with every default filled in',
      description:
        'Nothing is stored. Invalid: INVALID_TEMPLATE, with each invalid field in `errors` (`ladder[0].videoBitrate`).',
      tag: 'Templates',
      auth: 'api-token',
      body: { schema: z.record(z.string(), z.unknown()) },
      responses: {
        200: {
          description: 'Valid',
          schema: z.object({ valid: z.literal(true), template: TemplateSchema }),
        },
      },
      errors: ['INVALID_TEMPLATE', 'VALIDATION_FAILED'],
    },
    'GET /v1/pipelines': {
      operationId: 'listPipelines',
      summary: 'Every pipeline this server runs, with every default filled in',
      tag: 'Templates',
      auth: 'api-token',
      responses: {
        200: {
          description: 'Pipelines',
          schema: z.object({
            pipelines: z.array(
              z.looseObject({
                name: z.string(),
                bucket: z.string(),
                prefix: z.string(),
                suffixes: z.array(z.string()),
                template: z.string(),
                destinationBucket: z.string(),
                destinationPrefix: z.string(),
                settingsPrefix: z.string().nullable(),
                priority: z.number(),
                retry: z.object({
                  maxAttempts: z.number().int().nullable(),
                  backoff: z.object({
                    initialSeconds: z.number(),
                    maxSeconds: z.number(),
                    multiplier: z.number(),
                  }),
                }),
              }),
            ),
          }),
        },
      },
    },
    'POST /v1/plan/file': {
      operationId: 'planFile',
      summary: 'Dry run for a file that is not uploaded: the body is probed, never stored',
      description:
        'The raw body (any content type) is written to a scratch folder under the upload size limit and slow-client guard, probed, planned like POST /v1/plan, and removed.',
      tag: 'Templates',
      auth: 'api-token',
      query: PlanFileQuery,
      body: { contentType: 'application/octet-stream' },
      responses: { 200: { description: 'The probe and the plan', schema: PlanSchema } },
      errors: [
        'VALIDATION_FAILED',
        'TEMPLATE_NOT_FOUND',
        'INVALID_TEMPLATE',
        'PAYLOAD_TOO_LARGE',
        'INPUT_EMPTY',
        'UPLOAD_INCOMPLETE',
        'INPUT_UNREADABLE',
        'REQUEST_TOO_SLOW',
        'SERVER_BUSY',
      ],
    },
    'POST /v1/plan': {
      operationId: 'plan',
      summary: 'Dry run: the renditions an object would get under a template',
      tag: 'Templates',
      auth: 'api-token',
      body: { schema: PlanRequest },
      responses: { 200: { description: 'The probe and the plan', schema: PlanSchema } },
      errors: [
        'VALIDATION_FAILED',
        'OBJECT_NOT_FOUND',
        'TEMPLATE_NOT_FOUND',
        'INVALID_TEMPLATE',
        'INPUT_UNREADABLE',
        'SERVER_BUSY',
      ],
    },

    // Capacity pools and remote workers (for operators).
    'GET /v1/pools': {
      operationId: 'listPools',
      summary: "Each capacity pool's demand (queued, waiting for capacity, running)",
      tag: 'Pools and workers',
      auth: 'api-token',
      responses: { 200: { description: 'Pools', schema: z.object({ pools: z.array(PoolDemandSchema) }) } },
    },
    'GET /v1/pools/:pool': {
      operationId: 'getPool',
      summary: "One pool's demand (what an autoscaler reads)",
      tag: 'Pools and workers',
      auth: 'api-token',
      params: { pool: 'A pool name from SLUICE_POOLS' },
      responses: { 200: { description: 'The pool', schema: PoolDemandSchema } },
      errors: ['POOL_UNKNOWN'],
    },
    'POST /v1/workers/tokens': {
      operationId: 'createWorkerToken',
      summary: 'Make a remote worker token (shown in this answer only)',
      tag: 'Pools and workers',
      auth: 'api-token',
      body: { schema: CreateToken, optional: true },
      responses: {
        201: { description: 'Made', schema: WorkerTokenSchema.extend({ token: z.string() }) },
      },
      errors: ['VALIDATION_FAILED', 'POOL_UNKNOWN'],
    },
    'GET /v1/workers/tokens': {
      operationId: 'listWorkerTokens',
      summary: 'Worker tokens (never the tokens themselves)',
      tag: 'Pools and workers',
      auth: 'api-token',
      responses: { 200: { description: 'Tokens', schema: z.object({ tokens: z.array(WorkerTokenSchema) }) } },
    },
    'POST /v1/workers/tokens/:id/revoke': {
      operationId: 'revokeWorkerToken',
      summary: 'Revoke a worker token; its workers are refused at once',
      tag: 'Pools and workers',
      auth: 'api-token',
      params: { id: 'The token id (wt_…)' },
      responses: { 200: { description: 'Revoked', schema: WorkerTokenSchema } },
      errors: ['WORKER_TOKEN_NOT_FOUND'],
    },

    // The Worker API: what workers call (a launched worker and a remote pull worker alike).
    'POST /v1/worker/jobs/:id/claim': {
      operationId: 'startAttempt',
      summary: 'A launched worker starts the attempt it was given',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      responses: { 200: { description: 'The assignment', schema: AssignmentSchema } },
      errors: [...LEASE_ERRORS],
    },
    'POST /v1/worker/jobs/:id/heartbeat': {
      operationId: 'heartbeat',
      summary: 'Renew the lease and report phase and progress',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Heartbeat },
      responses: { 200: { description: 'Lease renewed', schema: HeartbeatAnswerSchema } },
      errors: [...LEASE_ERRORS],
    },
    'POST /v1/worker/jobs/:id/complete': {
      operationId: 'completeAttempt',
      summary: "Report the attempt's outputs: the job is COMPLETE",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Complete },
      responses: { 200: { description: 'Recorded', schema: StatusSchema } },
      errors: [...LEASE_ERRORS, 'OUTPUT_OUTSIDE_DESTINATION'],
    },
    'POST /v1/worker/jobs/:id/fail': {
      operationId: 'failAttempt',
      summary: 'Report a failed attempt; the server decides from the code whether it is retried',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Fail },
      responses: { 200: { description: 'Recorded', schema: StatusSchema } },
      errors: [...LEASE_ERRORS],
    },
    'POST /v1/worker/jobs/:id/release': {
      operationId: 'releaseAttempt',
      summary: 'Hand the job back on a preemption notice (not charged as an attempt)',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Release },
      responses: { 200: { description: 'Handed back', schema: StatusSchema } },
      errors: [...LEASE_ERRORS],
    },
    'POST /v1/worker/claim': {
      operationId: 'pullClaim',
      summary: 'A remote worker claims a job (long poll up to 20 s)',
      tag: 'Worker API',
      auth: 'worker-token',
      body: { schema: Claim, optional: true },
      responses: {
        200: { description: 'An attempt, started', schema: AssignmentSchema },
        204: { description: 'No job within the wait (or the server is stopping; see Retry-After)' },
      },
      errors: [
        'WORKER_TOKEN_INVALID',
        'WORKER_TOKEN_REVOKED',
        'WORKER_POOL_MISMATCH',
        'POOL_UNKNOWN',
        'VALIDATION_FAILED',
      ],
    },
    'GET /v1/worker/jobs/:id/input/stat': {
      operationId: 'pullInputStat',
      summary: "The attempt's input object as it is now (the version checks)",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      responses: {
        200: { description: 'The object', schema: z.looseObject({ size: z.number(), etag: z.string() }) },
      },
      errors: ['LEASE_LOST', 'OBJECT_NOT_FOUND'],
    },
    'GET /v1/worker/jobs/:id/input': {
      operationId: 'pullInput',
      summary: "The attempt's input bytes (Range supported)",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      responses: {
        200: { description: 'The input', contentType: 'application/octet-stream' },
        206: { description: 'A range of it', contentType: 'application/octet-stream' },
      },
      errors: ['LEASE_LOST', 'OBJECT_NOT_FOUND'],
    },
    'PUT /v1/worker/jobs/:id/outputs/*': {
      operationId: 'pullOutput',
      summary: "Write one output file into the attempt's version folder or staging",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT, key: 'The key inside the output set' },
      wildcard: 'key',
      body: { contentType: 'application/octet-stream' },
      responses: { 201: { description: 'Stored', schema: z.looseObject({ key: z.string() }) } },
      errors: ['LEASE_LOST', 'OUTPUT_OUTSIDE_DESTINATION', 'INVALID_OBJECT_KEY', 'UPLOAD_INCOMPLETE'],
    },
    'POST /v1/worker/jobs/:id/presign': {
      operationId: 'pullPresign',
      summary: 'Presigned URLs for the input and outputs (stores that presign: S3)',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Presign, optional: true },
      responses: {
        200: {
          description: 'URLs',
          schema: z.looseObject({ outputs: z.array(z.unknown()), expiresInSeconds: z.number() }),
        },
      },
      errors: ['LEASE_LOST', 'VALIDATION_FAILED', 'OUTPUT_OUTSIDE_DESTINATION'],
    },
    'POST /v1/worker/jobs/:id/publish': {
      operationId: 'pullPublish',
      summary: 'Swap the staged entry points in (the old output set is removed)',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Publish },
      responses: { 200: { description: 'Published', schema: z.object({ published: z.number().int() }) } },
      errors: ['LEASE_LOST', 'VALIDATION_FAILED'],
    },
    'POST /v1/worker/jobs/:id/discard': {
      operationId: 'pullDiscard',
      summary: "Remove the attempt's version folder and staging after a failed upload",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      responses: { 200: { description: 'Removed', schema: z.object({ discarded: z.literal(true) }) } },
      errors: ['LEASE_LOST'],
    },
    'GET /v1/jobs/:id/parts': {
      operationId: 'listJobParts',
      summary: "A chunked job's parts: its chunks, its audio part and its stitch, oldest first",
      description:
        'Chunked (accelerated) transcoding splits a long input into parts that any worker of the pool runs. Each part is a job of its own (its attempts, pool and progress); the job itself shows their aggregate. Empty for a job that was not split.',
      tag: 'Jobs',
      auth: 'api-token',
      params: { id: JOB_ID },
      responses: { 200: { description: 'Its parts', schema: z.object({ parts: z.array(JobViewSchema) }) } },
      errors: ['JOB_NOT_FOUND', 'AMBIGUOUS_JOB_ID'],
    },
    'POST /v1/worker/jobs/:id/split': {
      operationId: 'workerSplit',
      summary: 'Split the job into parts (chunks and audio) that any worker of its pool runs',
      description:
        'Chunked (accelerated) transcoding: the attempt probed the input and found it long enough. The parts are made and the job waits on them with no lease of its own; a job split before keeps every part whose receipt is in the parts area.',
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT },
      body: { schema: Split },
      responses: {
        200: {
          description: 'Split',
          schema: z.object({ status: z.string(), parts: z.number().int(), reused: z.number().int() }),
        },
      },
      errors: ['LEASE_LOST', 'VALIDATION_FAILED'],
    },
    'PUT /v1/worker/jobs/:id/parts/*': {
      operationId: 'workerPartPut',
      summary: "Write one file of this part's folder in its job's parts area",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT, key: '<part name>/<file>' },
      wildcard: 'key',
      body: { contentType: 'application/octet-stream' },
      responses: { 201: { description: 'Stored', schema: z.object({ size: z.number().int() }) } },
      errors: ['LEASE_LOST', 'OUTPUT_OUTSIDE_DESTINATION', 'INVALID_OBJECT_KEY', 'UPLOAD_INCOMPLETE'],
    },
    'GET /v1/worker/jobs/:id/parts/*': {
      operationId: 'workerPartGet',
      summary: "Read one file of the job's parts area (a receipt, a segment)",
      tag: 'Worker API',
      auth: 'lease-token',
      params: { id: ATTEMPT, key: '<part name>/<file>' },
      wildcard: 'key',
      responses: { 200: { description: 'The file', contentType: 'application/octet-stream' } },
      errors: ['LEASE_LOST', 'OBJECT_NOT_FOUND', 'INVALID_OBJECT_KEY'],
    },
  };
}
