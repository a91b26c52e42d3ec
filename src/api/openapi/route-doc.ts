// What a route's description says (route-docs.ts has one per route), and the response schemas: the
// requests are validated with zod schemas the routes export; the answers are hand-written here, loose
// (an added field is not a breaking change), naming the fields a client relies on.
import { z } from 'zod';
import type { ErrorCode } from '../../errors.ts';
import { JOB_PHASES, JOB_STATUSES, WAITING_FOR_CAPACITY } from '../../jobs/job.ts';

/** Who may call: the API token (when one is needed), a worker token, an attempt's lease token, … */
export type Auth = 'none' | 'api-token' | 'worker-token' | 'lease-token' | 'ingest-token';

export interface RouteDoc {
  /** Unique, camelCase: what a generated client names the call. */
  operationId: string;
  summary: string;
  description?: string;
  /** The reference page's section. */
  tag: string;
  auth: Auth;
  /** Descriptions of the path parameters (`:id`; `*` is named by `wildcard`). */
  params?: Record<string, string>;
  /** The name of a trailing `*` path parameter (an object key); default `path`. */
  wildcard?: string;
  /** The query schema the route parses (a zod object). */
  query?: z.ZodObject;
  body?: { schema?: z.ZodType; contentType?: string; optional?: boolean };
  /**
   * Successful answers by status; `schema` absent with a contentType: bytes. `alsoContentTypes`: other
   * types the same status may answer with, by content negotiation (`text/event-stream` for
   * `Accept: text/event-stream`), described by the text of `description`.
   */
  responses: Record<
    number,
    { description: string; schema?: z.ZodType; contentType?: string; alsoContentTypes?: string[] }
  >;
  /** The codes the route may answer with (problem+json); UNAUTHORIZED is implied by `api-token`. */
  errors?: ErrorCode[];
}

export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string().describe('A stable code from docs/errors.md'),
  detail: z.string().describe('What went wrong and what to do'),
  instance: z.string().optional(),
});

const ObjectRef = z.looseObject({
  bucket: z.string(),
  key: z.string(),
  size: z.number().optional(),
  etag: z.string().optional(),
});

const JobOutput = z.looseObject({
  type: z.string(),
  bucket: z.string(),
  key: z.string(),
  size: z.number().optional(),
});

const JobError = z.object({ code: z.string(), message: z.string() }).nullable();

export const JobViewSchema = z.looseObject({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  phase: z.enum([...JOB_PHASES, WAITING_FOR_CAPACITY]).nullable(),
  progress: z.object({
    percent: z.number(),
    fps: z.number().nullable(),
    speed: z.number().nullable(),
    etaSeconds: z.number().nullable(),
  }),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  updatedAt: z.string(),
  pipeline: z.string(),
  input: ObjectRef,
  inputMedia: z.record(z.string(), z.unknown()).nullable(),
  template: z.object({ name: z.string(), settings: z.record(z.string(), z.unknown()) }),
  destination: z.object({ bucket: z.string(), prefix: z.string() }),
  outputs: z.array(JobOutput),
  error: JobError,
  userMetadata: z.record(z.string(), z.string()),
  outputsReplacedBy: z.string().nullable(),
  pool: z.string().nullable(),
  offeredTo: z.array(z.string()).optional().describe('SUBMITTED: the capacity pools that may take it now'),
  priority: z.number(),
  inputId: z.string(),
});

export const JobListSchema = z.object({ jobs: z.array(JobViewSchema) });

export const JobEventsSchema = z.object({
  events: z.array(
    z.looseObject({
      id: z.number(),
      jobId: z.string(),
      at: z.string(),
      type: z.string(),
      fromStatus: z.string().nullable(),
      toStatus: z.string().nullable(),
      data: z.record(z.string(), z.unknown()),
    }),
  ),
});

export const HealthSchema = z.looseObject({
  status: z.literal('ok'),
  version: z.string(),
  jobs: z
    .record(z.string(), z.number())
    .optional()
    .describe('Jobs by status; left out when the job store did not answer in time'),
  leader: z.boolean().optional(),
  instance: z.string().optional(),
});

export const ReadySchema = z.object({ status: z.literal('ready') });

export const PoolDemandSchema = z.looseObject({
  pool: z.string(),
  queued: z.number().int(),
  waitingForCapacity: z.number().int(),
  running: z.number().int(),
  demand: z.number().int(),
});

const InputJob = z.looseObject({
  id: z.string(),
  pipeline: z.string(),
  template: z.string(),
  status: z.enum(JOB_STATUSES),
  percent: z.number(),
});

export const InputViewSchema = z.looseObject({
  id: z.string(),
  input: ObjectRef,
  status: z.string(),
  counts: z.record(z.string(), z.number()),
  createdAt: z.string(),
  updatedAt: z.string(),
  jobs: z.array(InputJob),
});

export const SkippedSchema = z.object({
  skipped: z.array(
    z.looseObject({ bucket: z.string(), key: z.string(), reason: z.string(), message: z.string() }),
  ),
});

export const TemplateSchema = z.looseObject({ name: z.string() });

export const PlanSchema = z.looseObject({
  template: z.string(),
  input: z.record(z.string(), z.unknown()),
  plan: z.record(z.string(), z.unknown()),
});

export const UploadResultSchema = z.object({
  object: z.looseObject({ bucket: z.string(), key: z.string(), size: z.number(), etag: z.string() }),
  jobs: z.array(JobViewSchema),
});

export const WorkerTokenSchema = z.looseObject({
  id: z.string(),
  pool: z.string(),
  label: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

export const AssignmentSchema = z.looseObject({
  leaseToken: z.string().optional().describe('Pull claims only: the attempt token for every later call'),
  job: z.looseObject({
    id: z.string(),
    attempt: z.number().int(),
    input: ObjectRef,
    template: z.record(z.string(), z.unknown()),
    destination: z.object({ bucket: z.string(), prefix: z.string() }),
  }),
  heartbeatSeconds: z.number(),
  leaseSeconds: z.number(),
  storage: z.record(z.string(), z.string()).optional(),
});

export const StatusSchema = z.looseObject({ status: z.enum(JOB_STATUSES) });

export const HeartbeatAnswerSchema = z.object({
  status: z.enum(JOB_STATUSES),
  leaseUntil: z.string().nullable(),
});
