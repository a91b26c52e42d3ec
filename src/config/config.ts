// Configuration: embedded defaults, overridden by SLUICE_* environment variables, then by CLI flags.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_CLIENT_LIMITS as LIMITS } from '../api/client-limits.ts';
import { SluiceError } from '../errors.ts';
import type { PoolSettings } from '../jobs/pool-offer.ts';
import { DEFAULT_LIMITS } from '../media/input-policy.ts';
import type { RetrySchedule } from '../notify/delivery-schedule.ts';
import { isMailbox } from '../notify/email-rules.ts';
import { STATUS_UPDATE_SECONDS } from '../notify/status-updates.ts';
import type { Ceilings } from '../templates/ceilings.ts';

/** ffmpeg's x264 uses several threads per job; one job per two cores keeps each one fast. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2));
}

import { DEFAULT_POOL, DEFAULT_POOL_FALLBACK_SECONDS, DEFAULT_PORT } from './defaults.ts';

export { DEFAULT_PORT, SERVER_FILE } from './defaults.ts';

const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const poolList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()))
  .pipe(
    z
      .array(z.string().regex(POOL_NAME, 'pool names are letters, digits, "_", "." and "-"'))
      .min(1)
      .refine((a) => new Set(a).size === a.length, 'a pool is named twice'),
  );
/** `spot=2,on-demand`: pools this server's local workers serve, each with an optional capacity. */
const localPoolList = z
  .string()
  .transform((s) =>
    s.split(',').map((p) => {
      const [name = '', capacity] = p.trim().split('=');
      return { name: name.trim(), capacity: capacity === undefined ? null : Number(capacity) };
    }),
  )
  .pipe(
    z
      .array(
        z.object({
          name: z.string().regex(POOL_NAME, 'pool names are letters, digits, "_", "." and "-"'),
          capacity: z.number().int().min(0).max(256).nullable(),
        }),
      )
      .min(1),
  );

/** `a, b`: trimmed, empty entries dropped. */
const commaList = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean),
);

const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,62}$/, 'bucket names are 2-63 lowercase letters, digits, "." and "-"');
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const Config = z.object({
  dataDir: z.string().min(1),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  concurrency: z.coerce.number().int().min(1).max(256).default(defaultConcurrency),
  defaultTemplate: z.string().default('abr-default'),
  /** A worker that misses heartbeats this long is presumed gone and its job is retried. */
  leaseSeconds: z.coerce.number().min(2).max(3600).default(30),
  heartbeatSeconds: z.coerce.number().min(0.2).max(600).default(2),
  /** How long a file in the source bucket must stay unchanged before it is taken as fully written. */
  settleMs: z.coerce.number().int().min(0).max(600_000).default(5000),
  /** The source bucket's full reconcile (and, on a store without notifications, its polling) interval. */
  reconcileSeconds: z.coerce.number().min(0.05).max(86_400).default(300),
  schedulerIntervalMs: z.coerce.number().int().min(50).max(60_000).default(500),
  /** Largest upload PUT /v1/uploads accepts. */
  maxUploadBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(50 * 1024 ** 3),
  // Slow or numerous clients (src/api/client-limits.ts explains each and its default).
  headersTimeoutMs: z.coerce.number().int().min(100).max(300_000).default(LIMITS.headersTimeoutMs),
  idleTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(LIMITS.idleTimeoutMs),
  keepAliveTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(LIMITS.keepAliveTimeoutMs),
  requestTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(LIMITS.requestTimeoutMs),
  /** 0 turns the minimum body rate off. */
  minBodyBytesPerSecond: z.coerce.number().int().min(0).default(LIMITS.minBodyBytesPerSecond),
  bodyRateWindowMs: z.coerce.number().int().min(100).max(600_000).default(LIMITS.bodyRateWindowMs),
  maxConnections: z.coerce.number().int().min(1).default(LIMITS.maxConnections),
  maxConcurrentUploads: z.coerce.number().int().min(1).max(100_000).default(LIMITS.maxConcurrentUploads),
  maxConcurrentProbes: z.coerce.number().int().min(1).max(1024).default(LIMITS.maxConcurrentProbes),
  maxQueuedProbes: z.coerce.number().int().min(0).max(100_000).default(LIMITS.maxQueuedProbes),
  /** Open live event streams (SSE) at most; past it 503 SERVER_BUSY with Retry-After. */
  maxEventStreams: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** On SIGTERM, running jobs get this long to finish before they are released for the next start. */
  shutdownGraceSeconds: z.coerce.number().min(0).max(86_400).default(30),
  /** Finished jobs and their events are purged this many days after they end (0 keeps them). */
  retentionDays: z.coerce.number().min(0).max(36_500).default(30),
  /** Server-wide ceilings: no template or settings file runs a job with a higher limit. */
  maxJobSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 3600),
  maxCpuSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .default(48 * 3600),
  maxAttempts: z.coerce.number().int().min(1).max(20).default(10),
  maxInputBytes: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxBytes),
  maxInputPixels: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxPixels),
  maxInputSeconds: z.coerce.number().positive().default(DEFAULT_LIMITS.maxDurationSeconds),
  maxInputStreams: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxStreams),
  maxInputFrames: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxFrames),
  maxInputPixelFrames: z.coerce.number().positive().default(DEFAULT_LIMITS.maxPixelFrames),
  maxInputDisplaySide: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxDisplaySide),
  maxInputAspectRatio: z.coerce.number().positive().default(DEFAULT_LIMITS.maxAspectRatio),
  /** postgres://… selects the PostgreSQL job store (`?schema=NAME`); unset, jobs live in `<data-dir>/sluice.db`. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Capacity pools in order of preference (seed 000: preemptible first, on-demand when none is left). */
  pools: poolList.default([DEFAULT_POOL]),
  /** How long a job waits unclaimed in its pools before the next pool may take it too. */
  poolFallbackSeconds: z.coerce.number().min(0).max(86_400).default(DEFAULT_POOL_FALLBACK_SECONDS),
  /** Preemptions a job takes in one pool before its offer moves on to the next pool. */
  poolPreemptions: z.coerce.number().int().min(1).max(100).default(1),
  /** The pools this server's local workers serve (default: the first pool), `name=capacity` each. */
  localPools: localPoolList.optional(),
  // Object storage (docs/storage.md): local folders under the data directory, or an S3-compatible store.
  storage: z.enum(['local', 's3']).default('local'),
  sourceBucket: bucketName.default('source'),
  destinationBucket: bucketName.default('destination'),
  s3Endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** Absent: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
  s3Region: z.string().min(1).optional(),
  s3ForcePathStyle: flag.default(false),
  s3AccessKeyId: z.string().min(1).optional(),
  s3SecretAccessKey: z.string().min(1).optional(),
  s3MaxAttempts: z.coerce.number().int().min(1).max(20).default(5),
  /** Multipart part size for large uploads (bytes, at least 5 MiB). */
  s3PartSize: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .max(5 * 1024 ** 3)
    .default(8 * 1024 * 1024),
  /** A YAML or JSON file of pipelines (config/pipeline-file.ts); unset: the default pipeline. */
  configFile: z.string().min(1).optional(),
  // Object-store notifications and JetStream (docs/ingest-events.md).
  /** Bearer token of POST /v1/ingest/events (MinIO's auth_token; Basic auth's password). */
  ingestToken: z.string().min(16, 'use at least 16 characters').optional(),
  /** Secret of X-Sluice-Signature (HMAC-SHA256 of "t.body") on POST /v1/ingest/events. */
  ingestHmacSecret: z.string().min(16, 'use at least 16 characters').optional(),
  /** SNS topic ARNs whose deliveries are taken (comma-separated; `*` any); none: SNS is refused. */
  ingestSnsTopicArns: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .optional(),
  /** nats://host:port: consume object events from JetStream (unset: no stream is read). */
  natsUrl: z
    .string()
    .regex(/^(nats|tls|wss?):\/\//, 'must be a nats:// (or tls://, ws://, wss://) URL')
    .optional(),
  natsStream: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -')
    .default('SLUICE_OBJECTS'),
  natsSubject: z.string().min(1).default('sluice.objects'),
  natsConsumer: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -')
    .default('sluice-ingest'),
  natsAckWaitSeconds: z.coerce.number().min(1).max(3600).default(30),
  // Email on COMPLETE and ERROR (docs/notifications.md): the SMTP server, and the zero-file rule.
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  smtpUrl: z
    .string()
    .regex(/^smtps?:\/\/[^/]/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  smtpTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
  emailFrom: z.string().refine(isMailbox, 'an email address, or "Name <address>"').optional(),
  emailTo: commaList
    .pipe(z.array(z.string().refine(isMailbox, 'email addresses, comma-separated')).min(1))
    .optional(),
  emailApplications: commaList.pipe(z.array(z.string()).min(1)).optional(),
  // Job events published to NATS JetStream for downstream consumers (docs/notifications.md).
  eventsNatsUrl: z
    .string()
    .regex(/^(nats|tls|wss?):\/\//, 'must be a nats:// (or tls://, ws://, wss://) URL')
    .optional(),
  eventsNatsStream: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -')
    .default('SLUICE_EVENTS'),
  eventsNatsSubjectPrefix: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
      'dot-separated tokens of letters, digits, _ and - (no wildcards)',
    )
    .default('sluice.events'),
  /** JetStream drops a message whose Nats-Msg-Id it stored within this window (a redelivery). */
  eventsNatsDuplicateWindowSeconds: z.coerce
    .number()
    .min(1)
    .max(7 * 86_400)
    .default(3600),
  /** How long the stream keeps events when Sluice makes it (0: no limit). */
  eventsNatsMaxAgeSeconds: z.coerce
    .number()
    .min(0)
    .default(7 * 86_400),
  eventsNatsPublishTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(5000),
  // Notifications (docs/notifications.md): the outbox that delivers job events to webhooks, email, streams.
  /** STATUS_UPDATE events of a PROGRESSING job, every this many seconds (MediaConvert: 10 s to 10 min). */
  statusUpdateSeconds: z.coerce
    .number()
    .min(STATUS_UPDATE_SECONDS.min)
    .max(STATUS_UPDATE_SECONDS.max)
    .default(STATUS_UPDATE_SECONDS.default),
  /** A failed delivery's first retry step; each further step doubles, up to the largest step. */
  notifyRetryBaseSeconds: z.coerce.number().min(0.05).max(3600).default(5),
  notifyRetryMaxSeconds: z.coerce.number().min(0.1).max(86_400).default(3600),
  /** How long a delivery is retried before it is FAILED (a user may still redeliver it). */
  notifyRetryHours: z.coerce.number().min(0.0005).max(720).default(24),
  /** Delivery attempts in flight at once, over every sink. */
  notifyConcurrency: z.coerce.number().int().min(1).max(256).default(8),
  /** The CloudEvents `source` of every event this installation tells (a URI-reference). */
  eventSource: z
    .string()
    .regex(/^[^\s]{1,256}$/, 'a URI-reference without spaces, at most 256 characters')
    .default('sluice'),
  /** GET /metrics without the API token even where one is needed (docs/observability.md). */
  metricsPublic: flag.default(false),
  // Webhooks (docs/notifications.md#webhooks).
  /** Private, loopback and link-local webhook targets are called (a closed network, tests); else refused. */
  webhookAllowPrivate: flag.default(false),
  /** Each webhook attempt's deadline, from connecting to the answer. */
  webhookTimeoutMs: z.coerce.number().int().min(100).max(120_000).default(10_000),
});
export type Config = z.infer<typeof Config>;

export type ConfigInput = Partial<Record<keyof Config, string | number | undefined>>;

/** The environment variable of each setting. */
export const CONFIG_ENV: Record<keyof Config, string> = {
  dataDir: 'SLUICE_DATA_DIR',
  host: 'SLUICE_HOST',
  port: 'SLUICE_PORT',
  concurrency: 'SLUICE_CONCURRENCY',
  defaultTemplate: 'SLUICE_DEFAULT_TEMPLATE',
  leaseSeconds: 'SLUICE_LEASE_SECONDS',
  heartbeatSeconds: 'SLUICE_HEARTBEAT_SECONDS',
  settleMs: 'SLUICE_SETTLE_MS',
  reconcileSeconds: 'SLUICE_RECONCILE_SECONDS',
  schedulerIntervalMs: 'SLUICE_SCHEDULER_INTERVAL_MS',
  maxUploadBytes: 'SLUICE_MAX_UPLOAD_BYTES',
  headersTimeoutMs: 'SLUICE_HEADERS_TIMEOUT_MS',
  idleTimeoutMs: 'SLUICE_IDLE_TIMEOUT_MS',
  keepAliveTimeoutMs: 'SLUICE_KEEP_ALIVE_TIMEOUT_MS',
  requestTimeoutMs: 'SLUICE_REQUEST_TIMEOUT_MS',
  minBodyBytesPerSecond: 'SLUICE_MIN_BODY_BYTES_PER_SECOND',
  bodyRateWindowMs: 'SLUICE_BODY_RATE_WINDOW_MS',
  maxConnections: 'SLUICE_MAX_CONNECTIONS',
  maxConcurrentUploads: 'SLUICE_MAX_CONCURRENT_UPLOADS',
  maxConcurrentProbes: 'SLUICE_MAX_CONCURRENT_PROBES',
  maxQueuedProbes: 'SLUICE_MAX_QUEUED_PROBES',
  maxEventStreams: 'SLUICE_MAX_EVENT_STREAMS',
  shutdownGraceSeconds: 'SLUICE_SHUTDOWN_GRACE_SECONDS',
  retentionDays: 'SLUICE_RETENTION_DAYS',
  maxJobSeconds: 'SLUICE_MAX_JOB_SECONDS',
  maxCpuSeconds: 'SLUICE_MAX_CPU_SECONDS',
  maxAttempts: 'SLUICE_MAX_ATTEMPTS',
  maxInputBytes: 'SLUICE_MAX_INPUT_BYTES',
  maxInputPixels: 'SLUICE_MAX_INPUT_PIXELS',
  maxInputSeconds: 'SLUICE_MAX_INPUT_SECONDS',
  maxInputStreams: 'SLUICE_MAX_INPUT_STREAMS',
  maxInputFrames: 'SLUICE_MAX_INPUT_FRAMES',
  maxInputPixelFrames: 'SLUICE_MAX_INPUT_PIXEL_FRAMES',
  maxInputDisplaySide: 'SLUICE_MAX_INPUT_DISPLAY_SIDE',
  maxInputAspectRatio: 'SLUICE_MAX_INPUT_ASPECT_RATIO',
  logLevel: 'SLUICE_LOG_LEVEL',
  pools: 'SLUICE_POOLS',
  poolFallbackSeconds: 'SLUICE_POOL_FALLBACK_SECONDS',
  poolPreemptions: 'SLUICE_POOL_PREEMPTIONS',
  localPools: 'SLUICE_LOCAL_POOLS',
  databaseUrl: 'SLUICE_DATABASE_URL',
  storage: 'SLUICE_STORAGE',
  sourceBucket: 'SLUICE_SOURCE_BUCKET',
  destinationBucket: 'SLUICE_DESTINATION_BUCKET',
  s3Endpoint: 'SLUICE_S3_ENDPOINT',
  s3Region: 'SLUICE_S3_REGION',
  s3ForcePathStyle: 'SLUICE_S3_FORCE_PATH_STYLE',
  s3AccessKeyId: 'SLUICE_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'SLUICE_S3_SECRET_ACCESS_KEY',
  s3MaxAttempts: 'SLUICE_S3_MAX_ATTEMPTS',
  s3PartSize: 'SLUICE_S3_PART_SIZE',
  configFile: 'SLUICE_CONFIG',
  ingestToken: 'SLUICE_INGEST_TOKEN',
  ingestHmacSecret: 'SLUICE_INGEST_HMAC_SECRET',
  ingestSnsTopicArns: 'SLUICE_INGEST_SNS_TOPIC_ARNS',
  natsUrl: 'SLUICE_NATS_URL',
  natsStream: 'SLUICE_NATS_STREAM',
  natsSubject: 'SLUICE_NATS_SUBJECT',
  natsConsumer: 'SLUICE_NATS_CONSUMER',
  natsAckWaitSeconds: 'SLUICE_NATS_ACK_WAIT_SECONDS',
  smtpUrl: 'SLUICE_SMTP_URL',
  smtpTimeoutMs: 'SLUICE_SMTP_TIMEOUT_MS',
  emailFrom: 'SLUICE_EMAIL_FROM',
  emailTo: 'SLUICE_EMAIL_TO',
  emailApplications: 'SLUICE_EMAIL_APPLICATIONS',
  eventsNatsUrl: 'SLUICE_EVENTS_NATS_URL',
  eventsNatsStream: 'SLUICE_EVENTS_NATS_STREAM',
  eventsNatsSubjectPrefix: 'SLUICE_EVENTS_NATS_SUBJECT_PREFIX',
  eventsNatsDuplicateWindowSeconds: 'SLUICE_EVENTS_NATS_DUPLICATE_WINDOW_SECONDS',
  eventsNatsMaxAgeSeconds: 'SLUICE_EVENTS_NATS_MAX_AGE_SECONDS',
  eventsNatsPublishTimeoutMs: 'SLUICE_EVENTS_NATS_PUBLISH_TIMEOUT_MS',
  statusUpdateSeconds: 'SLUICE_STATUS_UPDATE_SECONDS',
  notifyRetryBaseSeconds: 'SLUICE_NOTIFY_RETRY_BASE_SECONDS',
  notifyRetryMaxSeconds: 'SLUICE_NOTIFY_RETRY_MAX_SECONDS',
  notifyRetryHours: 'SLUICE_NOTIFY_RETRY_HOURS',
  notifyConcurrency: 'SLUICE_NOTIFY_CONCURRENCY',
  eventSource: 'SLUICE_EVENT_SOURCE',
  metricsPublic: 'SLUICE_METRICS_PUBLIC',
  webhookAllowPrivate: 'SLUICE_WEBHOOK_ALLOW_PRIVATE',
  webhookTimeoutMs: 'SLUICE_WEBHOOK_TIMEOUT_MS',
};

/** SLUICE_* variables read elsewhere than the configuration (binaries, CLI, the worker's token). */
export const OTHER_ENV = [
  'SLUICE_FFMPEG',
  'SLUICE_FFPROBE',
  'SLUICE_SERVER',
  'SLUICE_API_TOKEN',
  'SLUICE_WORKER_TOKEN',
  'SLUICE_DEV',
  'SLUICE_WORKER_FFMPEG',
];

/** Settings that existed once: each says what replaced it, so an upgrade is told rather than guessed at. */
const RETIRED_ENV: Record<string, string> = {
  SLUICE_POLL_MS:
    'source folders are watched through filesystem notifications and object stores send events, so nothing polls twice a second any more; SLUICE_RECONCILE_SECONDS sets how often a full listing catches what was missed (default 300)',
};

export function loadConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  // A misspelt variable (SLUICE_SETTL_MS) would otherwise be ignored and its default used in silence.
  const known = new Set([...Object.values(CONFIG_ENV), ...OTHER_ENV]);
  const unknown = Object.keys(env).filter((k) => k.startsWith('SLUICE_') && !known.has(k));
  const retired = unknown.filter((k) => k in RETIRED_ENV);
  if (retired.length > 0) {
    throw new SluiceError(
      'VALIDATION_FAILED',
      retired.map((k) => `${k} was removed: ${RETIRED_ENV[k]}; unset it`).join('; '),
    );
  }
  if (unknown.length > 0) {
    throw new SluiceError(
      'VALIDATION_FAILED',
      `unknown configuration variable ${unknown.join(', ')}; the settings are listed in docs/configuration.md`,
    );
  }
  const merged: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(CONFIG_ENV)) {
    const value = flags[field as keyof Config] ?? env[name];
    if (value !== undefined && value !== '') merged[field] = value;
  }
  merged.dataDir = path.resolve(String(merged.dataDir ?? 'sluice-data'));
  if (merged.configFile !== undefined) merged.configFile = path.resolve(String(merged.configFile));
  const parsed = Config.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      return `${field} (${CONFIG_ENV[field as keyof Config] ?? field}): ${i.message}`;
    });
    throw new SluiceError('VALIDATION_FAILED', `configuration is not valid: ${issues.join('; ')}`);
  }
  const unknownPools = (parsed.data.localPools ?? [])
    .map((p) => p.name)
    .filter((n) => !parsed.data.pools.includes(n));
  if (unknownPools.length > 0) {
    throw new SluiceError(
      'VALIDATION_FAILED',
      `configuration is not valid: localPools (SLUICE_LOCAL_POOLS) names ${unknownPools.join(', ')}, not in pools (SLUICE_POOLS: ${parsed.data.pools.join(', ')})`,
    );
  }
  checkStorage(parsed.data);
  checkNotifications(parsed.data, merged);
  return parsed.data;
}

/** S3 settings only with SLUICE_STORAGE=s3, so a typo'd setup never writes to local disk in silence. */
function checkStorage(c: Config): void {
  const bad = (why: string) => new SluiceError('VALIDATION_FAILED', `configuration is not valid: ${why}`);
  const s3Set = (Object.keys(CONFIG_ENV) as (keyof Config)[]).filter(
    (k) =>
      k.startsWith('s3') &&
      k !== 's3ForcePathStyle' &&
      k !== 's3MaxAttempts' &&
      k !== 's3PartSize' &&
      c[k] !== undefined,
  );
  if (c.storage === 'local' && s3Set.length > 0) {
    throw bad(
      `${s3Set.map((k) => CONFIG_ENV[k]).join(', ')} set, but SLUICE_STORAGE is local; set SLUICE_STORAGE=s3 to use the S3-compatible store`,
    );
  }
  if ((c.s3AccessKeyId === undefined) !== (c.s3SecretAccessKey === undefined)) {
    throw bad(
      'SLUICE_S3_ACCESS_KEY_ID and SLUICE_S3_SECRET_ACCESS_KEY go together (or set neither, for the AWS credential chain)',
    );
  }
  if (c.sourceBucket === c.destinationBucket) {
    throw bad(
      `SLUICE_SOURCE_BUCKET and SLUICE_DESTINATION_BUCKET are both ${c.sourceBucket}: outputs would become new jobs; use two buckets`,
    );
  }
}

/** Settings that only mean something with another one set, refused alone rather than ignored in silence. */
function checkNotifications(c: Config, given: Record<string, unknown>): void {
  const bad = (why: string) => new SluiceError('VALIDATION_FAILED', `configuration is not valid: ${why}`);
  if (c.emailTo && !c.smtpUrl) {
    throw bad('SLUICE_EMAIL_TO is set but SLUICE_SMTP_URL is not: set the SMTP server mail goes through');
  }
  if (c.emailApplications && !c.emailTo) {
    throw bad(
      'SLUICE_EMAIL_APPLICATIONS filters the mail of SLUICE_EMAIL_TO, which is not set; set both (or put rules in the configuration file)',
    );
  }
  const events = (Object.keys(CONFIG_ENV) as (keyof Config)[]).filter(
    (k) => k.startsWith('eventsNats') && k !== 'eventsNatsUrl' && given[k] !== undefined,
  );
  if (events.length > 0 && !c.eventsNatsUrl) {
    throw bad(
      `${events.map((k) => CONFIG_ENV[k]).join(', ')} set, but SLUICE_EVENTS_NATS_URL is not: set it to publish job events to JetStream`,
    );
  }
}

/** The pool settings the job store and the job view share (pool-offer.ts). */
export function poolSettingsOf(c: Config): PoolSettings {
  return {
    pools: c.pools,
    fallbackMs: c.poolFallbackSeconds * 1000,
    preemptionsPerPool: c.poolPreemptions,
  };
}

/** The pools local workers serve and each one's capacity (none given: the scheduler's concurrency). */
export function localPoolsOf(c: Config): { name: string; capacity: number }[] {
  const pools = c.localPools ?? [{ name: c.pools[0] ?? DEFAULT_POOL, capacity: null }];
  return pools.map((p) => ({ name: p.name, capacity: p.capacity ?? c.concurrency }));
}

export function ceilingsOf(c: Config): Ceilings {
  return {
    timeoutSeconds: c.maxJobSeconds,
    cpuSeconds: c.maxCpuSeconds,
    maxAttempts: c.maxAttempts,
    limits: {
      maxBytes: c.maxInputBytes,
      maxPixels: c.maxInputPixels,
      maxDurationSeconds: c.maxInputSeconds,
      maxStreams: c.maxInputStreams,
      maxFrames: c.maxInputFrames,
      maxPixelFrames: c.maxInputPixelFrames,
      maxDisplaySide: c.maxInputDisplaySide,
      maxAspectRatio: c.maxInputAspectRatio,
    },
  };
}

/** The outbox's retry schedule (notify/delivery-schedule.ts). */
export function retryScheduleOf(c: Config): RetrySchedule {
  return {
    baseMs: c.notifyRetryBaseSeconds * 1000,
    maxMs: Math.max(c.notifyRetryBaseSeconds, c.notifyRetryMaxSeconds) * 1000,
    windowMs: c.notifyRetryHours * 3_600_000,
  };
}
