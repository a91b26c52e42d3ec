// One catalogue of every error Sluice reports: a stable code, an HTTP status, and whether a worker
// failing with it may be retried. API responses carry the code in problem+json; the CLI prints it.

export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: { status: 400, title: 'Request is not valid', retryable: false },
  INVALID_OBJECT_KEY: { status: 400, title: 'Object key is not allowed', retryable: false },
  INVALID_STATUS: { status: 400, title: 'Unknown job status', retryable: false },
  TEMPLATE_NOT_FOUND: { status: 400, title: 'Template not found', retryable: false },
  INVALID_TEMPLATE: { status: 400, title: 'Template is not valid', retryable: false },
  UNAUTHORIZED: { status: 401, title: 'Missing or wrong token', retryable: false },
  HOST_NOT_ALLOWED: { status: 403, title: 'An open server answers loopback names only', retryable: false },
  WORKER_TOKEN_INVALID: { status: 401, title: 'Worker token is not known', retryable: false },
  WORKER_TOKEN_REVOKED: { status: 401, title: 'Worker token was revoked', retryable: false },
  WORKER_TOKEN_NOT_FOUND: { status: 404, title: 'No worker token with that id', retryable: false },
  WORKER_POOL_MISMATCH: { status: 403, title: "Worker's pool is not its token's pool", retryable: false },
  AMBIGUOUS_JOB_ID: { status: 409, title: 'More than one job id starts with that prefix', retryable: false },
  JOB_NOT_FOUND: { status: 404, title: 'Job not found', retryable: false },
  OBJECT_NOT_FOUND: { status: 404, title: 'Object not found', retryable: false },
  ROUTE_NOT_FOUND: { status: 404, title: 'Route not found', retryable: false },
  CONSOLE_NOT_BUILT: { status: 503, title: 'The web console is not built', retryable: false },
  INVALID_TRANSITION: { status: 409, title: 'Job cannot make that transition', retryable: false },
  LEASE_LOST: { status: 409, title: 'Attempt no longer holds the job', retryable: false },
  VERSION_CONFLICT: { status: 503, title: 'Job changed concurrently; try again', retryable: true },
  UPLOAD_KEY_RESERVED: { status: 403, title: 'Key is reserved for operator settings', retryable: false },
  UPLOAD_INCOMPLETE: { status: 400, title: 'Upload body ended early', retryable: false },
  INVALID_DESTINATION: { status: 400, title: 'Destination bucket is not allowed', retryable: false },
  JOB_CONFLICT: { status: 409, title: 'A job for this object differs from the request', retryable: false },
  SUPERSEDED: { status: 409, title: 'A newer version of the input replaced this job', retryable: false },
  SYMLINK_REFUSED: { status: 409, title: 'Path goes through a symbolic link', retryable: false },
  OUTPUT_OUTSIDE_DESTINATION: {
    status: 422,
    title: "Output is outside the job's destination",
    retryable: false,
  },
  NO_MATCHING_PIPELINE: { status: 422, title: 'No pipeline matches the object', retryable: false },
  CONFIG_INVALID: { status: 400, title: 'Configuration file is not valid', retryable: false },
  INPUT_NOT_FOUND: { status: 404, title: 'Input not found', retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large', retryable: false },
  REQUEST_TOO_SLOW: { status: 408, title: 'Request arrived too slowly', retryable: false },
  INPUT_EMPTY: { status: 422, title: 'Input is empty', retryable: false },
  INPUT_TOO_BIG: { status: 422, title: 'Input file is larger than allowed', retryable: false },
  INPUT_FORMAT_NOT_ALLOWED: { status: 422, title: 'Input format is not accepted', retryable: false },
  INPUT_TOO_MANY_PIXELS: { status: 422, title: 'Input picture is larger than allowed', retryable: false },
  INPUT_TOO_LONG: { status: 422, title: 'Input is longer than allowed', retryable: false },
  INPUT_TOO_MANY_STREAMS: { status: 422, title: 'Input has more streams than allowed', retryable: false },
  INPUT_TOO_MANY_FRAMES: { status: 422, title: 'Input has more video frames than allowed', retryable: false },
  INPUT_TOO_MUCH_WORK: {
    status: 422,
    title: 'Input needs more decoding (pixels x frames) than allowed',
    retryable: false,
  },
  INPUT_DISPLAY_TOO_LARGE: {
    status: 422,
    title: 'Input picture as shown (after its aspect ratio) is larger than allowed',
    retryable: false,
  },
  INPUT_BAD_ASPECT_RATIO: { status: 422, title: 'Input aspect ratio is beyond the limit', retryable: false },
  INPUT_NO_OUTPUT: {
    status: 422,
    title: 'ffmpeg read the input but could not make an output from it',
    retryable: false,
  },
  INPUT_UNREADABLE: { status: 422, title: 'Input is not a readable media file', retryable: false },
  INPUT_NO_VIDEO: { status: 422, title: 'Input has no video stream', retryable: false },
  INPUT_NO_AUDIO: { status: 422, title: 'Input has no audio stream', retryable: false },
  JOB_CPU_LIMIT: { status: 500, title: 'Attempt exceeded its CPU-time limit', retryable: false },
  JOB_TIMEOUT: { status: 500, title: "Attempt exceeded the template's time limit", retryable: false },
  TRANSCODE_FAILED: { status: 500, title: 'ffmpeg failed', retryable: true },
  // Chunked (accelerated) encoding: issue 13.
  CHUNK_MISSING: { status: 500, title: 'A chunk of the encode has no valid receipt', retryable: true },
  CHUNK_DISCONTINUITY: { status: 500, title: 'Chunks of the encode do not join up', retryable: true },
  WORKER_LOST: { status: 500, title: 'Worker stopped without reporting', retryable: true },
  LAUNCH_FAILED: { status: 500, title: 'Worker could not be started', retryable: true },
  CAPACITY_UNAVAILABLE: { status: 503, title: 'No capacity or quota left in the pool', retryable: true },
  POOL_UNKNOWN: { status: 400, title: 'No capacity pool of that name', retryable: false },
  PREEMPTED: { status: 503, title: 'Worker was preempted and handed its job back', retryable: true },
  STORAGE_FAILED: { status: 500, title: 'Storage operation failed', retryable: true },
  STORAGE_UNREACHABLE: { status: 503, title: 'Object store does not answer', retryable: true },
  STORAGE_ACCESS_DENIED: { status: 502, title: 'Object store refused the credentials', retryable: false },
  BUCKET_NOT_FOUND: { status: 502, title: 'Bucket does not exist in the object store', retryable: false },
  FFMPEG_NOT_FOUND: { status: 500, title: 'ffmpeg is not usable', retryable: false },
  NODE_TOO_OLD: { status: 500, title: 'Node.js is older than Sluice supports', retryable: false },
  PORT_IN_USE: { status: 409, title: 'Port is already in use', retryable: false },
  PORT_NOT_PERMITTED: { status: 403, title: 'Not allowed to listen on that port', retryable: false },
  ADDRESS_NOT_AVAILABLE: { status: 400, title: 'No interface has that address', retryable: false },
  DATABASE_UNREACHABLE: { status: 503, title: 'PostgreSQL does not answer', retryable: true },
  DATA_DIR_IN_USE: {
    status: 409,
    title: 'Another Sluice server runs on this data directory',
    retryable: false,
  },
  NOT_SLUICE: { status: 502, title: 'The server answering is not Sluice', retryable: false },
  SERVER_UNREACHABLE: { status: 503, title: 'Sluice server is not reachable', retryable: true },
  SERVER_BUSY: { status: 503, title: 'Server is at its limit; retry later', retryable: true },
  // Object-store notifications (POST /v1/ingest/events, JetStream): docs/ingest-events.md.
  EVENT_MALFORMED: { status: 400, title: 'Event notification is not valid', retryable: false },
  EVENT_FORMAT_UNSUPPORTED: {
    status: 415,
    title: 'Event notification format is not known',
    retryable: false,
  },
  INGEST_UNAUTHORIZED: { status: 401, title: 'Event sender is not authenticated', retryable: false },
  INGEST_SIGNATURE_INVALID: { status: 401, title: 'Event signature is not valid', retryable: false },
  SNS_TOPIC_NOT_ALLOWED: { status: 403, title: 'SNS topic is not allowed', retryable: false },
  SNS_UNREACHABLE: { status: 503, title: 'SNS could not be reached', retryable: true },
  NATS_UNREACHABLE: { status: 503, title: 'NATS JetStream does not answer', retryable: true },
  // GET /v1/ready: what is not answering (docs/observability.md).
  JOB_STORE_UNAVAILABLE: { status: 503, title: 'Job store does not answer', retryable: true },
  BUCKETS_UNAVAILABLE: { status: 503, title: 'A role bucket is not reachable', retryable: true },
  // Webhooks (docs/notifications.md#webhooks).
  WEBHOOK_NOT_FOUND: { status: 404, title: 'No webhook subscription with that id', retryable: false },
  WEBHOOK_INVALID: { status: 400, title: 'Webhook subscription is not valid', retryable: false },
  WEBHOOK_TARGET_REFUSED: {
    status: 422,
    title: 'Webhook URL points at an address Sluice does not call',
    retryable: false,
  },
  WEBHOOK_DISABLED: { status: 409, title: 'Webhook subscription is disabled', retryable: false },
  DELIVERY_NOT_FOUND: { status: 404, title: 'No delivery with that id', retryable: false },
  // Live event streams (SSE): docs/notifications.md.
  INVALID_LAST_EVENT_ID: { status: 400, title: 'Last-Event-ID is not an event id', retryable: false },
  // The console's API (docs/console.md): its session and the files of a job's outputs.
  CROSS_SITE_REQUEST: { status: 403, title: 'Request came from another site', retryable: false },
  OUTPUT_NOT_FOUND: { status: 404, title: 'No such output file of the job', retryable: false },
  RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range is beyond the file', retryable: false },
  INTERNAL: { status: 500, title: 'Internal error', retryable: true },
} as const satisfies Record<string, { status: number; title: string; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CATALOGUE[this.code].retryable;
  }
}

export function toSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('INTERNAL', message);
}

/** One invalid field of a request, template or configuration: `ladder[0].videoBitrate`, "" for the whole. */
export interface FieldError {
  field: string;
  message: string;
}

/** A field's path (zod's issue path) as `a.b[0].c`; "" for the top level. */
export function fieldPathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

/** Zod's issues as field errors (what problem+json's `errors` lists). */
export function fieldErrorsOf(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): FieldError[] {
  return issues.map((i) => ({ field: fieldPathOf(i.path), message: i.message }));
}
