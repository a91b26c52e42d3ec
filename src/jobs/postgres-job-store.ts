// JobStore on PostgreSQL through Kysely and `pg`: the same semantics as the SQLite store (its reference),
// for several control planes on one database. A claim takes the first runnable row (highest priority,
// then oldest) FOR UPDATE SKIP LOCKED, so concurrent claimers never wait on nor get the same job; a
// transition locks its row, and a version column fences every write. Jobs that become claimable NOTIFY a channel of the schema; a
// dedicated listening connection (reconnecting when dropped) wakes this process's onWork listeners.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Generated, Kysely, PostgresDialect, type Selectable, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { IngestSeenTable } from '../ingest/seen-objects.ts';
import type { ObjectSequencerStore } from '../ingest/sequencer.ts';
import {
  type SkipNotice,
  type SkipRecord,
  type SkipRecordStore,
  skipRecordFromRow,
} from '../ingest/skip-log.ts';
import type { LoggedEvent } from '../notify/cloud-event.ts';
import type { DeliveryStore } from '../notify/delivery-store.ts';
import {
  DELIVERY_TABLES_POSTGRES,
  type DeliveryTables,
  OUTBOX_START_POSTGRES,
} from '../notify/delivery-tables.ts';
import { KyselyDeliveries } from '../notify/kysely-deliveries.ts';
import { KyselyWebhooks } from '../notify/kysely-webhooks.ts';
import { WEBHOOK_TABLE_POSTGRES, type WebhookStore } from '../notify/webhook-subscriptions.ts';
import type { Job, JobStatus, NewJob } from './job.ts';
import { newJobDraft } from './job-draft.ts';
import {
  applyAndSave,
  fromRow,
  insertStatusUpdate,
  type JobsTable,
  type JobTables,
  jobsOf,
  loggedEventOf,
  retryOnConflict,
  toRow,
} from './job-rows.ts';
import type { ActiveJobCount, ClaimOptions, CreateResult, JobListFilter, JobStore } from './job-store.ts';
import { jobSummary } from './job-summary.ts';
import { KyselyJobQueries } from './kysely-job-queries.ts';
import { KyselyObjectSequencers, type ObjectSequencersTable } from './kysely-object-sequencers.ts';
import { KyselySeenObjects } from './kysely-seen-objects.ts';
import { KyselyWorkerTokens } from './kysely-worker-tokens.ts';
import { hashLeaseToken } from './lease-token.ts';
import { DEFAULT_POOLS, type PoolSettings, requireKnownPool } from './pool-offer.ts';
import { applyTransition, type Transition } from './state-machine.ts';
import type { WorkerTokenStore, WorkerTokensTable } from './worker-token-store.ts';

interface IngestSkippedTable {
  seq: Generated<string>;
  bucket: string;
  key: string;
  reason: string;
  version: string;
  message: string;
  first_seen: string;
  last_seen: string;
  count: Generated<number>;
}

interface Schema extends JobTables, DeliveryTables {
  jobs: JobsTable & { seq: Generated<string> };
  ingest_skipped: IngestSkippedTable;
  worker_tokens: WorkerTokensTable & { seq: Generated<string> };
  sluice_migrations: { id: number; applied_at: Generated<Date> };
  object_sequencers: ObjectSequencersTable;
  ingest_seen: IngestSeenTable;
}

/**
 * Numbered by position (`sluice_migrations.id` is the number); append only, never edit. Timestamps are
 * ISO-8601 text and documents JSON text, as in SQLite; ids and timestamps use the "C" collation (byte
 * order, as SQLite compares), so both stores compare and order alike.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
     id TEXT COLLATE "C" PRIMARY KEY,
     version INTEGER NOT NULL DEFAULT 0,
     status TEXT NOT NULL,
     phase TEXT,
     percent DOUBLE PRECISION NOT NULL DEFAULT 0,
     fps DOUBLE PRECISION, speed DOUBLE PRECISION, eta_seconds DOUBLE PRECISION,
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     run_after TEXT COLLATE "C" NOT NULL,
     lease_hash TEXT, lease_until TEXT COLLATE "C",
     created_at TEXT COLLATE "C" NOT NULL, started_at TEXT COLLATE "C", finished_at TEXT COLLATE "C", updated_at TEXT COLLATE "C" NOT NULL,
     pipeline TEXT NOT NULL,
     input TEXT NOT NULL, input_media TEXT,
     template_name TEXT NOT NULL, template TEXT NOT NULL,
     destination TEXT NOT NULL, outputs TEXT NOT NULL DEFAULT '[]',
     error_code TEXT, error_message TEXT, stderr_tail TEXT,
     user_metadata TEXT NOT NULL DEFAULT '{}',
     idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
     version_group TEXT NOT NULL,
     output_set TEXT NOT NULL,
     outputs_replaced_by TEXT
   )`,
  'CREATE INDEX jobs_runnable ON jobs (status, run_after, created_at, seq)',
  'CREATE INDEX jobs_status_created ON jobs (status, created_at, seq)',
  'CREATE INDEX jobs_version_group ON jobs (version_group, status)',
  'CREATE INDEX jobs_output_set ON jobs (output_set, status)',
  `CREATE TABLE job_events (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
     at TEXT COLLATE "C" NOT NULL, type TEXT NOT NULL, from_status TEXT, to_status TEXT,
     data TEXT NOT NULL DEFAULT '{}'
   )`,
  'CREATE INDEX job_events_job ON job_events (job_id, id)',
  `CREATE TABLE ingest_ledger (
     idempotency_key TEXT COLLATE "C" PRIMARY KEY,
     job_id TEXT COLLATE "C" NOT NULL,
     ingested_at TEXT COLLATE "C" NOT NULL
   )`,
  `CREATE TABLE ingest_skipped (
     seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     reason TEXT NOT NULL,
     version TEXT NOT NULL DEFAULT '',
     message TEXT NOT NULL,
     first_seen TEXT COLLATE "C" NOT NULL,
     last_seen TEXT COLLATE "C" NOT NULL,
     count INTEGER NOT NULL DEFAULT 1,
     PRIMARY KEY (bucket, key, reason)
   )`,
  'CREATE INDEX ingest_skipped_last_seen ON ingest_skipped (last_seen, seq)',
  `CREATE TABLE worker_tokens (
     seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
     id TEXT COLLATE "C" PRIMARY KEY,
     pool TEXT NOT NULL,
     label TEXT,
     hash TEXT NOT NULL UNIQUE,
     created_at TEXT COLLATE "C" NOT NULL,
     revoked_at TEXT COLLATE "C",
     last_used_at TEXT COLLATE "C"
   )`,
  // Capacity pools (pool-offer.ts): the attempt's pool, preemptions, when the current offer began.
  `ALTER TABLE jobs ADD COLUMN pool TEXT,
     ADD COLUMN preemptions INTEGER NOT NULL DEFAULT 0,
     ADD COLUMN offered_at TEXT COLLATE "C" NOT NULL DEFAULT ''`,
  `UPDATE jobs SET offered_at = run_after WHERE offered_at = ''`,
  // Pipelines (issue 10): the pipeline's priority and retry backoff on the job, and the input (object
  // version) its fan-out siblings share, computed as input-group.ts inputIdOf does. The claim walks the
  // partial index of SUBMITTED jobs in claim order (priority, then age) and stops at the first runnable
  // row it can lock: no sort of the backlog.
  `ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0,
     ADD COLUMN retry_backoff TEXT,
     ADD COLUMN input_id TEXT COLLATE "C" NOT NULL DEFAULT ''`,
  `UPDATE jobs SET input_id = 'in_' || substr(encode(sha256(convert_to((input::json->>'bucket') || E'\\n' ||
     (input::json->>'key') || E'\\n' || COALESCE(input::json->>'etag', ''), 'UTF8')), 'hex'), 1, 16)`,
  `CREATE INDEX jobs_claim ON jobs (priority DESC, created_at, seq) WHERE status = 'SUBMITTED'`,
  'CREATE INDEX jobs_input ON jobs (input_id, created_at, seq)',
  // Object-store notifications (issue 10): the highest S3 sequencer seen per key (kysely-object-sequencers.ts).
  `CREATE TABLE IF NOT EXISTS object_sequencers (
     bucket TEXT COLLATE "C" NOT NULL,
     key TEXT COLLATE "C" NOT NULL,
     sequencer TEXT COLLATE "C" NOT NULL,
     updated_at TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (bucket, key)
   )`,
  // (issue 10) the source watch's ledger of seen object versions (ingest/seen-objects.ts).
  `CREATE TABLE IF NOT EXISTS ingest_seen (
     bucket TEXT COLLATE "C" NOT NULL,
     key TEXT COLLATE "C" NOT NULL,
     etag TEXT NOT NULL,
     seen_at TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (bucket, key)
   )`,
  // Notifications (issue 11): every job event keeps its job's summary (the outbox sends it as it was) and
  // its transaction's id: the event log is read in (tx, id) order below the oldest transaction still
  // running, so a reader never passes an event a slower transaction has yet to commit (eventsAfter).
  `ALTER TABLE job_events ADD COLUMN IF NOT EXISTS job TEXT,
     ADD COLUMN IF NOT EXISTS tx xid8 NOT NULL DEFAULT pg_current_xact_id()`,
  'CREATE INDEX IF NOT EXISTS job_events_log ON job_events (tx, id)',
  ...DELIVERY_TABLES_POSTGRES,
  // (issue 11) webhook subscriptions (notify/webhook-subscriptions.ts).
  WEBHOOK_TABLE_POSTGRES,
  // (issue 11) the outbox starts at the log's head as of this migration (delivery-tables.ts).
  OUTBOX_START_POSTGRES,
  // Chunked jobs (issue 13): a part's parent and which part it is, a parent's split; parts by parent.
  `ALTER TABLE jobs ADD COLUMN parent_id TEXT COLLATE "C",
     ADD COLUMN part TEXT,
     ADD COLUMN split TEXT`,
  'CREATE INDEX jobs_parent ON jobs (parent_id, created_at, seq) WHERE parent_id IS NOT NULL',
];

/** A claim's row: the job after the claim, the row before it (JSON) and the job:claimed event's data. */
type ClaimedRow = Selectable<JobsTable> & {
  seq: string;
  before: string;
  event_data: string;
  event_job: string;
};

/**
 * How far the event log may be read: below the oldest transaction that was running when this statement's
 * snapshot was taken and may still commit an event, else everything. Transactions pg_stat_activity shows
 * running in another database cannot write this one's events and do not count, so an idle-in-transaction
 * session elsewhere on a shared server does not hold notifications back. One that has ended since the
 * snapshot (no longer listed), or whose database this role may not see, counts: the next read sees it.
 */
const LOG_HORIZON = sql.raw(`COALESCE(
  (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
      WHERE a.backend_xid = x::xid AND a.datname IS DISTINCT FROM current_database())),
  pg_snapshot_xmax(pg_current_snapshot()))`);

/**
 * job-summary.ts's jobSummary in SQL, over a jobs row (the claim writes its event in the same statement);
 * every claim checks it against jobSummary.
 */
const SUMMARY_SQL = sql.raw(`(jsonb_build_object(
  'id', id, 'status', status, 'phase', phase,
  'progress', json_build_object('percent', percent, 'fps', fps, 'speed', speed, 'etaSeconds', eta_seconds),
  'attempts', attempts, 'maxAttempts', max_attempts, 'pipeline', pipeline, 'template', template_name,
  'input', input::json, 'inputId', input_id, 'destination', destination::json, 'outputs', outputs::json,
  'error', CASE WHEN error_code IS NULL THEN NULL
    ELSE json_build_object('code', error_code, 'message', COALESCE(error_message, '')) END,
  'userMetadata', user_metadata::json, 'pool', pool, 'createdAt', created_at, 'startedAt', started_at,
  'finishedAt', finished_at)
  || CASE WHEN parent_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('parentId', parent_id) END)::text`);

/** Skip records kept at most; the oldest go first (as in SQLite). */
const MAX_SKIP_RECORDS = 10_000;
/** Lower case: search_path folds an unquoted name to lower case, and the schema is made under that name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresJobStoreOptions {
  /** postgres://user[:password]@host[:port]/database; a `schema` query parameter is read by parsePostgresUrl. */
  connectionString: string;
  /** Where the tables live (search_path); made by migrate() when missing. */
  schema?: string;
  /** Connections of the pool. */
  maxConnections?: number;
  /** Capacity pools, for claims that name one (pool-offer.ts). */
  pools?: PoolSettings;
  log?: Logger;
}

/**
 * Splits SLUICE_DATABASE_URL into pg's connection string and the schema: `?schema=NAME` selects the
 * schema (default `public`); every other parameter goes to pg unchanged.
 */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? 'public';
  u.searchParams.delete('schema');
  if (u.searchParams.has('options')) {
    // pg lets the URL's options replace the store's own (its search_path): one way to pick the schema.
    throw new SluiceError(
      'VALIDATION_FAILED',
      'SLUICE_DATABASE_URL: pick the schema with ?schema=NAME, not ?options=-c search_path=…',
    );
  }
  if (!SCHEMA_NAME.test(schema)) {
    throw new SluiceError(
      'VALIDATION_FAILED',
      `SLUICE_DATABASE_URL: schema "${schema}" is not a plain identifier (lower-case letters, digits and _, not starting with a digit)`,
    );
  }
  return { connectionString: u.toString(), schema };
}

export class PostgresJobStore implements JobStore, SkipRecordStore, WorkerTokenStore, ObjectSequencerStore {
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly db: Kysely<Schema>;
  private readonly tokens: KyselyWorkerTokens;
  private readonly queries: KyselyJobQueries;
  private readonly sequencers: KyselyObjectSequencers;
  private readonly seen: KyselySeenObjects;
  /** The outbox's storage (notify/delivery-store.ts), in this database. */
  readonly deliveries: DeliveryStore;
  /** Webhook subscriptions (notify/webhook-subscriptions.ts), in this database. */
  readonly webhooks: WebhookStore;
  private readonly work = new EventEmitter();
  private readonly channel: string;
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private closed = false;
  private statementGeneration = 0;

  constructor(private readonly o: PostgresJobStoreOptions) {
    this.schema = o.schema ?? 'public';
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new SluiceError('VALIDATION_FAILED', `schema "${this.schema}" is not a plain identifier`);
    }
    this.channel = `sluice_work_${this.schema}`.slice(0, 63);
    this.pool = new pg.Pool({
      connectionString: o.connectionString,
      options: `-c search_path=${this.schema}`,
      max: o.maxConnections ?? 10,
    });
    // An idle connection the server dropped must not crash the process; the pool makes a new one.
    this.pool.on('error', (err) => o.log?.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
    this.db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: this.pool }) });
    this.tokens = new KyselyWorkerTokens(this.db as never, sql`seq`);
    this.queries = new KyselyJobQueries(
      this.db as never,
      sql`seq`,
      (id, t, now) => this.transition(id, t, now),
      'postgres',
    );
    this.sequencers = new KyselyObjectSequencers(this.db as never);
    this.seen = new KyselySeenObjects(this.db as never);
    this.deliveries = new KyselyDeliveries(this.db as never, 'postgres');
    this.webhooks = new KyselyWebhooks(this.db as never);
  }

  advanceSequencer(bucket: string, key: string, sequencer: string, now: Date) {
    return this.sequencers.advanceSequencer(bucket, key, sequencer, now);
  }

  /**
   * Runs the migrations not yet recorded, in one transaction under an advisory lock of the schema: two
   * processes starting at once migrate once; the second waits and finds nothing left to do.
   */
  async migrate(): Promise<void> {
    const client = await this.pool.connect().catch((err: Error) => {
      const u = new URL(this.o.connectionString);
      throw new SluiceError(
        'DATABASE_UNREACHABLE',
        `cannot connect to PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}: ${err.message}; check SLUICE_DATABASE_URL and that the server is up`,
      );
    });
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice:migrate:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS sluice_migrations (id INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const done = await client.query<{ n: number | null }>('SELECT max(id) AS n FROM sluice_migrations');
      const current = done.rows[0]?.n ?? 0;
      for (let i = current; i < PG_MIGRATIONS.length; i++) {
        await client.query(PG_MIGRATIONS[i] as string);
        await client.query('INSERT INTO sluice_migrations (id) VALUES ($1)', [i + 1]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async create(input: NewJob, now: Date): Promise<CreateResult> {
    const at = now.toISOString();
    const job = newJobDraft(input, now);
    // One statement (one round trip, atomic): the job, its ledger entry, its job:created event and the
    // NOTIFY, each only when the insert happened. The unique key decides between concurrent creates: the
    // loser's insert does nothing (it waited for the winner to commit), and it reads the winner's job.
    const insert = this.db
      .insertInto('jobs')
      .values(toRow(job))
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('id');
    const ledger = this.db
      .insertInto('ingest_ledger')
      .columns(['idempotency_key', 'job_id', 'ingested_at'])
      .expression(sql`SELECT ${job.idempotencyKey}, id, ${at} FROM inserted`)
      .onConflict((oc) => oc.column('idempotency_key').doUpdateSet({ job_id: job.id, ingested_at: at }));
    const data = JSON.stringify({
      input: job.input,
      template: job.templateName,
      pipeline: job.pipeline,
      ...(input.limitsLowered ? { limitsLowered: input.limitsLowered } : {}),
    });
    const write = sql<{ id: string }>`WITH inserted AS (${insert}),
      ledger AS (${ledger}),
      event AS (
        INSERT INTO job_events (job_id, at, type, from_status, to_status, data, job)
        SELECT id, ${at}, 'job:created', NULL, 'SUBMITTED', ${data}, ${JSON.stringify(jobSummary(job))} FROM inserted)
      SELECT id, pg_notify(${this.channel}, '') AS notified FROM inserted`.compile(this.db);
    const created = await this.prepared<{ id: string }>('create', write.sql, write.parameters);
    if (created.rows.length === 1) return { job, created: true };
    const existing = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('idempotency_key', '=', input.idempotencyKey)
      .executeTakeFirstOrThrow();
    return { job: fromRow(existing), created: false };
  }

  ingested(idempotencyKey: string) {
    return this.queries.ingested(idempotencyKey);
  }

  seenObjects(bucket: string) {
    return this.seen.seenObjects(bucket);
  }

  seenVersion(bucket: string, key: string) {
    return this.seen.seenVersion(bucket, key);
  }

  markSeen(bucket: string, key: string, etag: string, now: Date) {
    return this.seen.markSeen(bucket, key, etag, now);
  }

  forgetSeen(bucket: string, keys: readonly string[]) {
    return this.seen.forgetSeen(bucket, keys);
  }

  supersede(versionGroup: string, byJobId: string, now: Date) {
    return this.queries.supersede(versionGroup, byJobId, now);
  }

  replaceOutputs(outputSet: string, byJobId: string, now: Date) {
    return this.queries.replaceOutputs(outputSet, byJobId, now);
  }

  get(id: string) {
    return this.queries.get(id);
  }

  findByIdPrefix(prefix: string, limit: number) {
    return this.queries.findByIdPrefix(prefix, limit);
  }

  list(filter: JobListFilter) {
    return this.queries.list(filter);
  }

  listQueued(now: Date, limit: number) {
    return this.queries.listQueued(now, limit);
  }

  countByStatusAndPipeline() {
    return this.queries.countByStatusAndPipeline();
  }

  listParts(parentId: string) {
    return this.queries.listParts(parentId);
  }

  listSplitRunning(limit: number) {
    return this.queries.listSplitRunning(limit);
  }

  listSplitFinished(before: Date, limit: number) {
    return this.queries.listSplitFinished(before, limit);
  }

  listOrphanParts(limit: number) {
    return this.queries.listOrphanParts(limit);
  }

  countRunningAttempts() {
    return this.queries.countRunningAttempts();
  }

  events(jobId: string) {
    return this.queries.events(jobId);
  }

  async eventsAfter(
    afterId: number | null,
    limit: number,
    filter: { jobId?: string } = {},
  ): Promise<LoggedEvent[]> {
    // Ids are taken in insertion order but committed in any order: id 8 may become visible after id 9.
    // Transaction ids order the log instead, read only below the oldest transaction still running, so
    // nothing can still commit before the last event returned (events of one transaction by id).
    let after = sql``;
    if (afterId !== null) {
      const anchor = await this.db
        .selectFrom('job_events')
        .select(sql<string>`tx::text`.as('tx'))
        .where('id', '=', String(afterId))
        .executeTakeFirst();
      // An anchor the retention purge took: go on by id (at worst an event of that moment twice).
      after = anchor
        ? sql`AND (tx, id) > (${anchor.tx}::xid8, ${afterId}::bigint)`
        : sql`AND id > ${afterId}::bigint`;
    }
    const job = filter.jobId !== undefined ? sql`AND job_id = ${filter.jobId}` : sql``;
    const rows = await sql<Selectable<Schema['job_events']>>`
      SELECT id, job_id, at, type, from_status, to_status, data, job FROM job_events
      WHERE tx < (${LOG_HORIZON}) ${after} ${job}
      ORDER BY tx, id LIMIT ${limit}`.execute(this.db);
    return rows.rows.map(loggedEventOf);
  }

  async lastEventId(): Promise<number | null> {
    const r = await sql<{ id: string | null }>`SELECT max(id) AS id FROM job_events`.execute(this.db);
    const id = r.rows[0]?.id;
    return id === null || id === undefined ? null : Number(id);
  }

  async recordStatusUpdate(jobId: string, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // FOR SHARE: a heartbeat waits for this event's commit, so the snapshot is the row as of the event.
      const row = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', jobId)
        .forShare()
        .executeTakeFirst();
      return insertStatusUpdate(jobsOf(trx), row, now);
    });
  }

  listByInput(inputId: string) {
    return this.queries.listByInput(inputId);
  }

  async transition(id: string, t: Transition, now: Date): Promise<Job> {
    // Two round trips in the common case: read the row, then one fenced statement writes it, its event and
    // the wake-up. A write that lost to a concurrent one, and any refusal (so that none is decided on a
    // row another writer is changing), go the locked way below.
    const fast = await this.transitionUnlocked(id, t, now);
    if (fast) return fast;
    return retryOnConflict(() =>
      this.db.transaction().execute(async (trx) => {
        // The row lock orders concurrent transitions of one job: each reads what the previous wrote.
        const row = await trx
          .selectFrom('jobs')
          .selectAll()
          .where('id', '=', id)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${id}`);
        const saved = await applyAndSave(jobsOf(trx), fromRow(row), row.version, t, now);
        if (saved.claimable) await sql`SELECT pg_notify(${this.channel}, '')`.execute(trx);
        return saved.job;
      }),
    );
  }

  /**
   * applyAndSave's write as one statement, outside a transaction: the update lands only on the version
   * read, with its event and (for a claimable job) the NOTIFY. Null when the row was missing or changed
   * meanwhile, or the transition was refused: the caller takes the locked way then.
   */
  private async transitionUnlocked(id: string, t: Transition, now: Date): Promise<Job | null> {
    const read = this.db.selectFrom('jobs').selectAll().where('id', '=', id).compile();
    const row = (await this.prepared<Selectable<Schema['jobs']>>('read', read.sql, read.parameters)).rows[0];
    if (!row) return null;
    let applied: ReturnType<typeof applyTransition>;
    try {
      applied = applyTransition(fromRow(row), t, now);
    } catch {
      return null;
    }
    const { job: next, event } = applied;
    const { id: _id, idempotency_key: _key, created_at: _created, ...changes } = toRow(next);
    const update = this.db
      .updateTable('jobs')
      .set({ ...changes, version: row.version + 1 })
      .where('id', '=', id)
      .where('version', '=', row.version)
      .returning('id');
    const withEvent =
      event.type === 'job:progress'
        ? sql``
        : sql`, event AS (
            INSERT INTO job_events (job_id, at, type, from_status, to_status, data, job)
            SELECT id, ${next.updatedAt}, ${event.type}, ${event.fromStatus}, ${event.toStatus}, ${JSON.stringify(event.data)},
              ${JSON.stringify(jobSummary(next))}
            FROM updated)`;
    // Work to do again (release, retry, resubmit): the wake-up is sent with the commit, as in applyAndSave's callers.
    const notify = next.status === 'SUBMITTED' ? sql`pg_notify(${this.channel}, '')` : sql`NULL`;
    const write = sql<{ id: string }>`WITH updated AS (${update})${withEvent}
      SELECT id, ${notify} AS notified FROM updated`.compile(this.db);
    const written = await this.prepared<{ id: string }>('transition', write.sql, write.parameters);
    return written.rows.length === 1 ? next : null;
  }

  async claimNext(
    leaseToken: string,
    leaseMs: number,
    now: Date,
    opts: ClaimOptions = {},
  ): Promise<Job | null> {
    const { pool } = opts;
    const next = this.nextClaimable(now, pool);
    const t: Transition = { type: 'claim', leaseToken, leaseMs, ...(pool !== undefined ? { pool } : {}) };
    return this.claimWith(next, t, leaseToken, leaseMs, now, pool);
  }

  /** The claim's row pick: the first runnable SUBMITTED job the pool may take, locked, others skipped. */
  private nextClaimable(now: Date, pool: string | undefined) {
    const pools = this.o.pools ?? DEFAULT_POOLS;
    requireKnownPool(pools, pool);
    // Rows other claimers hold are skipped, not waited on: each concurrent claim takes another job.
    let q = this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'SUBMITTED')
      .where('run_after', '<=', now.toISOString());
    if (pool !== undefined) {
      // The pool rule of pool-offer.ts in SQL: the job's offer runs from pool `first` (preemptions /
      // per pool) to `last` (first + fallback waits elapsed since offered_at), both capped at the last.
      const i = pools.pools.indexOf(pool);
      const top = Math.max(0, pools.pools.length - 1);
      const per = Math.max(1, pools.preemptionsPerPool);
      const first = sql<number>`LEAST(${top}, preemptions / ${per})`;
      const elapsedMs = sql`GREATEST(0, EXTRACT(EPOCH FROM (${now.toISOString()}::timestamptz - COALESCE(NULLIF(offered_at, ''), run_after)::timestamptz)) * 1000)`;
      const last =
        pools.fallbackMs <= 0
          ? sql<number>`${top}`
          : sql<number>`LEAST(${top}, ${first} + FLOOR(${elapsedMs} / ${pools.fallbackMs}))`;
      q = q.where(sql<boolean>`${first} <= ${i} AND ${i} <= ${last}`);
    }
    // Priority first, then age: the order of the partial index jobs_claim, so no sort of the backlog.
    return q
      .orderBy('priority', 'desc')
      .orderBy('created_at')
      .orderBy('seq')
      .limit(1)
      .forUpdate()
      .skipLocked();
  }

  /** The plan PostgreSQL makes for the claim's row pick (EXPLAIN text): the claim index, not a sort. */
  async explainClaim(now: Date, pool?: string): Promise<string> {
    const q = this.nextClaimable(now, pool).compile();
    const r = await this.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.sql}`, [...q.parameters]);
    return r.rows.map((row) => row['QUERY PLAN']).join('\n');
  }

  private async claimWith(
    next: ReturnType<PostgresJobStore['nextClaimable']>,
    t: Transition,
    leaseToken: string,
    leaseMs: number,
    now: Date,
    pool: string | undefined,
  ): Promise<Job | null> {
    const at = now.toISOString();
    // One statement, one round trip (pick-up latency is round trips): lock the first runnable row, write
    // the claim and its job:claimed event, return the row before and after. The SET is the state
    // machine's claim transition in SQL; every claim checks it against applyTransition below.
    const claim = sql<ClaimedRow>`
        WITH next AS (${next}),
        claimed AS (
          UPDATE jobs SET status = 'PROGRESSING', phase = NULL, percent = 0, fps = NULL, speed = NULL,
            eta_seconds = NULL, attempts = jobs.attempts + 1, lease_hash = ${hashLeaseToken(leaseToken)},
            lease_until = ${new Date(now.getTime() + leaseMs).toISOString()},
            started_at = COALESCE(jobs.started_at, ${at}), error_code = NULL, error_message = NULL,
            pool = ${pool ?? null}, updated_at = ${at}, version = jobs.version + 1
          FROM next WHERE jobs.id = next.id
          RETURNING jobs.*, row_to_json(next)::text AS before
        ),
        event AS (
          INSERT INTO job_events (job_id, at, type, from_status, to_status, data, job)
          SELECT id, ${at}, 'job:claimed', 'SUBMITTED', 'PROGRESSING',
            '{"attempt":' || attempts || ${pool !== undefined ? `,"pool":${JSON.stringify(pool)}` : ''}::text || '}',
            ${SUMMARY_SQL}
          FROM claimed
          RETURNING data, job
        )
        SELECT claimed.*, (SELECT data FROM event) AS event_data, (SELECT job FROM event) AS event_job
        FROM claimed`.compile(this.db);
    const r = await this.prepared<ClaimedRow>('claim', claim.sql, claim.parameters);

    const row = r.rows[0];
    if (!row) return null;
    const { before, event_data, event_job, seq: _seq, ...after } = row;
    const expected = applyTransition(fromRow(JSON.parse(before)), t, now);
    const job = fromRow(after);
    assert.deepStrictEqual(job, expected.job, 'the PostgreSQL claim wrote what the state machine computes');
    assert.deepStrictEqual(
      { type: 'job:claimed', fromStatus: 'SUBMITTED', toStatus: 'PROGRESSING', data: event_data },
      { ...expected.event, data: JSON.stringify(expected.event.data) },
      'the PostgreSQL claim recorded the event the state machine computes',
    );
    assert.deepStrictEqual(
      JSON.parse(event_job),
      jobSummary(expected.job),
      'the PostgreSQL claim recorded the job summary job-summary.ts computes',
    );
    return job;
  }

  /**
   * Runs `text` as a named prepared statement (planned once per connection, not on every call: a claim is
   * latency-bound). Statements are named by their text; a plan that the schema outgrew (a migration of
   * another process changed the table under it) is made again under a new name.
   */
  private async prepared<R extends pg.QueryResultRow>(
    what: string,
    text: string,
    values: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    const name = () =>
      `sluice_${what}_${this.statementGeneration}_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    try {
      return await this.pool.query<R>({ name: name(), text, values: [...values] });
    } catch (err) {
      // 0A000: "cached plan must not change result type".
      if ((err as { code?: string }).code !== '0A000') throw err;
      this.statementGeneration++;
      return this.pool.query<R>({ name: name(), text, values: [...values] });
    }
  }

  async countByStatus(status: JobStatus): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', status)
      // Jobs as users count them: a chunked job's parts are its own business (countRunningAttempts).
      .where('parent_id', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  countActive(now: Date): Promise<ActiveJobCount[]> {
    return this.queries.countActive(now, this.o.pools ?? DEFAULT_POOLS);
  }

  async expiredLeases(now: Date): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'PROGRESSING')
      .where('lease_until', '<', now.toISOString())
      .orderBy('seq')
      .execute();
    return rows.map(fromRow);
  }

  purgeFinished(before: Date) {
    return this.queries.purgeFinished(before);
  }

  async recordSkip(n: SkipNotice, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO ingest_skipped (bucket, key, reason, version, message, first_seen, last_seen)
        VALUES (${n.bucket}, ${n.key}, ${n.reason}, ${n.version ?? ''}, ${n.message}, ${at}, ${at})
        ON CONFLICT (bucket, key, reason) DO UPDATE SET
          count = ingest_skipped.count + 1, version = excluded.version, message = excluded.message,
          last_seen = excluded.last_seen
        WHERE ingest_skipped.version IS DISTINCT FROM excluded.version`.execute(trx);
      await sql`DELETE FROM ingest_skipped WHERE seq IN
        (SELECT seq FROM ingest_skipped ORDER BY last_seen DESC, seq DESC OFFSET ${MAX_SKIP_RECORDS})`.execute(
        trx,
      );
    });
  }

  async listSkipped(limit: number): Promise<SkipRecord[]> {
    const rows = await this.db
      .selectFrom('ingest_skipped')
      .selectAll()
      .orderBy('last_seen', 'desc')
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(skipRecordFromRow);
  }

  createWorkerToken(t: { id: string; pool: string; label: string | null; hash: string }, now: Date) {
    return this.tokens.createWorkerToken(t, now);
  }

  listWorkerTokens() {
    return this.tokens.listWorkerTokens();
  }

  revokeWorkerToken(id: string, now: Date) {
    return this.tokens.revokeWorkerToken(id, now);
  }

  findWorkerTokenByHash(hash: string) {
    return this.tokens.findWorkerTokenByHash(hash);
  }

  touchWorkerToken(id: string, now: Date) {
    return this.tokens.touchWorkerToken(id, now);
  }

  onWork(listener: () => void): () => void {
    this.work.on('work', listener);
    if (!this.listener && !this.listening) this.listening = this.listen();
    return () => this.work.off('work', listener);
  }

  /** Resolves once LISTEN is in place (tests wait for it; the scheduler's poll covers the gap). */
  async listeningReady(): Promise<void> {
    await this.listening;
  }

  /** A dedicated connection that LISTENs; dropped, it is made again after a second. */
  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.o.connectionString,
      // Named, so an operator (or a test) can find the listening connection in pg_stat_activity.
      application_name: `sluice-listen:${this.schema}`.slice(0, 63),
    });
    const retry = () => {
      if (this.listener === client) this.listener = null;
      client.removeAllListeners();
      client.on('error', () => {});
      void client.end().catch(() => {});
      if (this.closed || this.reconnect) return;
      this.reconnect = setTimeout(() => {
        this.reconnect = null;
        if (!this.closed) this.listening = this.listen();
      }, 1000);
      this.reconnect.unref();
    };
    client.on('notification', (m) => {
      if (m.channel === this.channel) this.work.emit('work');
    });
    client.on('error', (err) => {
      this.o.log?.warn({ err: err.message }, 'PostgreSQL listening connection lost; reconnecting');
      retry();
    });
    client.on('end', () => {
      if (!this.closed) retry();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.listener = client;
      // Work may have arrived while no connection listened.
      this.work.emit('work');
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, 'PostgreSQL LISTEN failed; retrying');
      retry();
    } finally {
      this.listening = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    await this.listening?.catch(() => {});
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners();
      l.on('error', () => {});
      await l.end().catch(() => {});
    }
    this.work.removeAllListeners();
    await this.db.destroy();
  }
}
