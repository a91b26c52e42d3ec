// JobStore on SQLite (WAL) through Kysely. The control plane is the only process that opens the file;
// workers reach jobs through the Worker API. better-sqlite3 is synchronous, so each transaction below
// runs without interleaving and a claim is atomic.

import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { SluiceError } from '../errors.ts';
import type { IngestSeenTable } from '../ingest/seen-objects.ts';
import type { ObjectSequencerStore } from '../ingest/sequencer.ts';
import {
  type SkipNotice,
  type SkipRecord,
  type SkipRecordRow,
  type SkipRecordStore,
  skipRecordFromRow,
} from '../ingest/skip-log.ts';
import type { DeliveryStore } from '../notify/delivery-store.ts';
import {
  DELIVERY_TABLES_SQLITE,
  type DeliveryTables,
  OUTBOX_START_SQLITE,
} from '../notify/delivery-tables.ts';
import { KyselyDeliveries } from '../notify/kysely-deliveries.ts';
import { KyselyWebhooks } from '../notify/kysely-webhooks.ts';
import { WEBHOOK_TABLE_SQLITE, type WebhookStore } from '../notify/webhook-subscriptions.ts';
import type { Job, JobStatus, NewJob } from './job.ts';
import { newJobDraft } from './job-draft.ts';
import {
  applyAndSave,
  fromRow,
  insertEvent,
  insertStatusUpdate,
  type JobTables,
  jobsOf,
  retryOnConflict,
  toRow,
} from './job-rows.ts';
import type { ActiveJobCount, ClaimOptions, CreateResult, JobListFilter, JobStore } from './job-store.ts';
import { KyselyJobQueries } from './kysely-job-queries.ts';
import { KyselyObjectSequencers, type ObjectSequencersTable } from './kysely-object-sequencers.ts';
import { KyselySeenObjects } from './kysely-seen-objects.ts';
import { KyselyWorkerTokens } from './kysely-worker-tokens.ts';
import { hashLeaseToken } from './lease-token.ts';
import { DEFAULT_POOLS, type PoolSettings, poolMayClaim, requireKnownPool } from './pool-offer.ts';
import type { Transition } from './state-machine.ts';
import type { WorkerTokenStore, WorkerTokensTable } from './worker-token-store.ts';

interface Schema extends JobTables, DeliveryTables {
  worker_tokens: WorkerTokensTable;
  object_sequencers: ObjectSequencersTable;
  ingest_seen: IngestSeenTable;
}

/** Numbered by position; `user_version` counts how many ran. Append only. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     phase TEXT,
     percent REAL NOT NULL DEFAULT 0,
     fps REAL, speed REAL, eta_seconds REAL,
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     run_after TEXT NOT NULL,
     lease_token TEXT, lease_until TEXT,
     created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, updated_at TEXT NOT NULL,
     pipeline TEXT NOT NULL,
     input TEXT NOT NULL, input_media TEXT,
     template_name TEXT NOT NULL, template TEXT NOT NULL,
     destination TEXT NOT NULL, outputs TEXT NOT NULL DEFAULT '[]',
     error_code TEXT, error_message TEXT, stderr_tail TEXT,
     user_metadata TEXT NOT NULL DEFAULT '{}',
     idempotency_key TEXT NOT NULL UNIQUE
   )`,
  'CREATE INDEX jobs_runnable ON jobs (status, run_after, created_at)',
  'CREATE INDEX jobs_status_created ON jobs (status, created_at)',
  `CREATE TABLE job_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
     at TEXT NOT NULL, type TEXT NOT NULL, from_status TEXT, to_status TEXT,
     data TEXT NOT NULL DEFAULT '{}'
   )`,
  'CREATE INDEX job_events_job ON job_events (job_id, id)',
  // 6-10: supersession by version group, output sets, and the ingest ledger (issue 7).
  `ALTER TABLE jobs ADD COLUMN version_group TEXT NOT NULL DEFAULT ''`,
  `ALTER TABLE jobs ADD COLUMN output_set TEXT NOT NULL DEFAULT ''`,
  'ALTER TABLE jobs ADD COLUMN outputs_replaced_by TEXT',
  `UPDATE jobs SET version_group = idempotency_key,
     output_set = json_extract(destination, '$.bucket') || '/' || json_extract(destination, '$.prefix')`,
  `CREATE TABLE ingest_ledger (
     idempotency_key TEXT PRIMARY KEY,
     job_id TEXT NOT NULL,
     ingested_at TEXT NOT NULL
   )`,
  'INSERT OR IGNORE INTO ingest_ledger SELECT idempotency_key, id, created_at FROM jobs',
  'CREATE INDEX jobs_version_group ON jobs (version_group, status)',
  'CREATE INDEX jobs_output_set ON jobs (output_set, status)',
  // Lease tokens were kept in plain text: hash the ones in flight (their workers keep working).
  'ALTER TABLE jobs RENAME COLUMN lease_token TO lease_hash',
  'UPDATE jobs SET lease_hash = sluice_sha256(lease_hash) WHERE lease_hash IS NOT NULL',
  // 16-17: objects the watcher skipped (issue 8): one row per bucket, key and reason; `count` versions.
  `CREATE TABLE ingest_skipped (
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     reason TEXT NOT NULL,
     version TEXT NOT NULL DEFAULT '',
     message TEXT NOT NULL,
     first_seen TEXT NOT NULL,
     last_seen TEXT NOT NULL,
     count INTEGER NOT NULL DEFAULT 1,
     PRIMARY KEY (bucket, key, reason)
   )`,
  'CREATE INDEX ingest_skipped_last_seen ON ingest_skipped (last_seen)',
  // 18-19 (issue 9): a row version for optimistic concurrency (VERSION_CONFLICT, never LEASE_LOST), and
  // remote worker tokens (their SHA-256 only).
  'ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0',
  `CREATE TABLE worker_tokens (
     id TEXT PRIMARY KEY,
     pool TEXT NOT NULL,
     label TEXT,
     hash TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     revoked_at TEXT,
     last_used_at TEXT
   )`,
  // 20-23: capacity pools (issue 9): the attempt's pool, preemptions, when the current offer began.
  'ALTER TABLE jobs ADD COLUMN pool TEXT',
  'ALTER TABLE jobs ADD COLUMN preemptions INTEGER NOT NULL DEFAULT 0',
  `ALTER TABLE jobs ADD COLUMN offered_at TEXT NOT NULL DEFAULT ''`,
  'UPDATE jobs SET offered_at = run_after',
  // Pipelines (issue 10): the pipeline's priority and retry backoff on the job, and the input (object
  // version) its fan-out siblings share, computed as input-group.ts inputIdOf does. Claims walk the
  // SUBMITTED jobs by priority, then age (jobs_claim); an input's jobs are read by jobs_input.
  'ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0',
  'ALTER TABLE jobs ADD COLUMN retry_backoff TEXT',
  `ALTER TABLE jobs ADD COLUMN input_id TEXT NOT NULL DEFAULT ''`,
  `UPDATE jobs SET input_id = 'in_' || substr(sluice_sha256(json_extract(input, '$.bucket') || char(10) ||
     json_extract(input, '$.key') || char(10) || COALESCE(json_extract(input, '$.etag'), '')), 1, 16)`,
  `CREATE INDEX jobs_claim ON jobs (priority DESC, created_at) WHERE status = 'SUBMITTED'`,
  'CREATE INDEX jobs_input ON jobs (input_id, created_at)',
  // Object-store notifications (issue 10): the highest S3 sequencer seen per key (kysely-object-sequencers.ts).
  `CREATE TABLE IF NOT EXISTS object_sequencers (
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     sequencer TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (bucket, key)
   )`,
  // (issue 10) the source watch's ledger of seen object versions (ingest/seen-objects.ts).
  `CREATE TABLE IF NOT EXISTS ingest_seen (
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     etag TEXT NOT NULL,
     seen_at TEXT NOT NULL,
     PRIMARY KEY (bucket, key)
   )`,
  // Notifications (issue 11): every job event keeps its job's summary (the outbox sends it as it was);
  // the outbox's read position in the event log, its deliveries, and each delivery's attempts.
  'ALTER TABLE job_events ADD COLUMN job TEXT',
  ...DELIVERY_TABLES_SQLITE,
  // (issue 11) webhook subscriptions (notify/webhook-subscriptions.ts).
  WEBHOOK_TABLE_SQLITE,
  // (issue 11) the outbox starts at the log's head as of this migration (delivery-tables.ts).
  OUTBOX_START_SQLITE,
  // Chunked jobs (issue 13): a part's parent and which part it is, a parent's split; parts by parent.
  `ALTER TABLE jobs ADD COLUMN parent_id TEXT;
   ALTER TABLE jobs ADD COLUMN part TEXT;
   ALTER TABLE jobs ADD COLUMN split TEXT;
   CREATE INDEX jobs_parent ON jobs (parent_id, created_at) WHERE parent_id IS NOT NULL`,
];

/** Skip records kept at most; the oldest go first (a folder of unrelated files cannot grow the database). */
const MAX_SKIP_RECORDS = 10_000;

/** The database holds other people's jobs (and lease hashes): the owner's only, like the data dir. */
const DB_FILE_MODE = 0o600;

export class SqliteJobStore implements JobStore, SkipRecordStore, WorkerTokenStore, ObjectSequencerStore {
  private readonly db: Kysely<Schema>;
  private readonly tokens: KyselyWorkerTokens;
  private readonly queries: KyselyJobQueries;
  private readonly sequencers: KyselyObjectSequencers;
  private readonly seen: KyselySeenObjects;
  /** The outbox's storage (notify/delivery-store.ts), in this database. */
  readonly deliveries: DeliveryStore;
  /** Webhook subscriptions (notify/webhook-subscriptions.ts), in this database. */
  readonly webhooks: WebhookStore;
  /** In-process wake-ups: one control plane opens the file, so its own writes are all there are. */
  private readonly work = new EventEmitter();
  private readonly sqlite: Database.Database;

  constructor(
    file: string,
    private readonly pools: PoolSettings = DEFAULT_POOLS,
  ) {
    // Made (or tightened) 0600 before SQLite opens it: SQLite gives the -wal and -shm files it creates
    // the database file's mode, whatever the process umask.
    if (file !== ':memory:' && file !== '') {
      fs.closeSync(fs.openSync(file, 'a', DB_FILE_MODE));
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        try {
          if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, DB_FILE_MODE);
        } catch {
          // -wal/-shm not there (yet)
        }
      }
    }
    this.sqlite = new Database(file);
    this.sqlite.function('sluice_sha256', { deterministic: true }, (v: unknown) =>
      v === null ? null : hashLeaseToken(String(v)),
    );
    // Freed bytes are zeroed, so a token hashed by the migration (or any deleted row) is not left behind.
    this.sqlite.pragma('secure_delete = ON');
    this.sqlite.pragma('journal_mode = WAL');
    this.sqlite.pragma('synchronous = NORMAL');
    this.sqlite.pragma('foreign_keys = ON');
    this.sqlite.pragma('busy_timeout = 5000');
    this.db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: this.sqlite }) });
    this.tokens = new KyselyWorkerTokens(this.db as never, sql`rowid`);
    this.queries = new KyselyJobQueries(
      this.db as never,
      sql`rowid`,
      (id, t, now) => this.transition(id, t, now),
      'sqlite',
    );
    this.sequencers = new KyselyObjectSequencers(this.db as never);
    this.seen = new KyselySeenObjects(this.db as never);
    this.deliveries = new KyselyDeliveries(this.db as never, 'sqlite');
    this.webhooks = new KyselyWebhooks(this.db as never);
  }

  async migrate(): Promise<void> {
    // user_version records how many migrations ran; each runs in the same transaction as its bump.
    const current = this.sqlite.pragma('user_version', { simple: true }) as number;
    for (let i = current; i < MIGRATIONS.length; i++) {
      this.sqlite
        .transaction(() => {
          this.sqlite.exec(MIGRATIONS[i] as string);
          this.sqlite.pragma(`user_version = ${i + 1}`);
        })
        .immediate();
    }
    // Old page images (plain tokens, before the hashing migration) leave the WAL at once.
    if (current < MIGRATIONS.length) this.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  }

  async create(input: NewJob, now: Date): Promise<CreateResult> {
    const at = now.toISOString();
    const job = newJobDraft(input, now);
    const result = await this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('idempotency_key', '=', input.idempotencyKey)
        .executeTakeFirst();
      if (existing) return { job: fromRow(existing), created: false };
      await trx.insertInto('jobs').values(toRow(job)).execute();
      await trx
        .insertInto('ingest_ledger')
        .values({ idempotency_key: job.idempotencyKey, job_id: job.id, ingested_at: at })
        .onConflict((oc) => oc.column('idempotency_key').doUpdateSet({ job_id: job.id, ingested_at: at }))
        .execute();
      await insertEvent(jobsOf(trx), job, at, 'job:created', null, 'SUBMITTED', {
        input: job.input,
        template: job.templateName,
        pipeline: job.pipeline,
        ...(input.limitsLowered ? { limitsLowered: input.limitsLowered } : {}),
      });
      return { job, created: true };
    });
    if (result.created) this.work.emit('work');
    return result;
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

  eventsAfter(afterId: number | null, limit: number, filter?: { jobId?: string }) {
    return this.queries.eventsAfter(afterId, limit, filter);
  }

  lastEventId() {
    return this.queries.lastEventId();
  }

  async recordStatusUpdate(jobId: string, now: Date): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
      return insertStatusUpdate(jobsOf(trx), row, now);
    });
  }

  listByInput(inputId: string) {
    return this.queries.listByInput(inputId);
  }

  async transition(id: string, t: Transition, now: Date): Promise<Job> {
    const saved = await retryOnConflict(() =>
      this.db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${id}`);
        return applyAndSave(jobsOf(trx), fromRow(row), row.version, t, now);
      }),
    );
    if (saved.claimable) this.work.emit('work');
    return saved.job;
  }

  onWork(listener: () => void): () => void {
    this.work.on('work', listener);
    return () => this.work.off('work', listener);
  }

  async claimNext(
    leaseToken: string,
    leaseMs: number,
    now: Date,
    opts: ClaimOptions = {},
  ): Promise<Job | null> {
    const { pool } = opts;
    requireKnownPool(this.pools, pool);
    // The pool rule (pool-offer.ts) is arithmetic on preemptions and offered_at: SQLite applies it in
    // code over the runnable rows in claim order (priority, then age), inside the one write transaction; PostgreSQL puts the
    // same arithmetic in the WHERE of its FOR UPDATE SKIP LOCKED select.
    return this.db.transaction().execute(async (trx) => {
      const BATCH = 200;
      for (let offset = 0; ; offset += BATCH) {
        const rows = await trx
          .selectFrom('jobs')
          .selectAll()
          .where('status', '=', 'SUBMITTED')
          .where('run_after', '<=', now.toISOString())
          // Priority first, then age (the jobs_claim index).
          .orderBy('priority', 'desc')
          .orderBy('created_at')
          // Insertion order breaks ties: ids are random within a millisecond, rowids only grow.
          .orderBy(sql`rowid`)
          .limit(pool === undefined ? 1 : BATCH)
          .offset(offset)
          .execute();
        const row = rows.find((r) => pool === undefined || poolMayClaim(this.pools, pool, fromRow(r), now));
        if (row) {
          const t: Transition = {
            type: 'claim',
            leaseToken,
            leaseMs,
            ...(pool !== undefined ? { pool } : {}),
          };
          return (await applyAndSave(jobsOf(trx), fromRow(row), row.version, t, now)).job;
        }
        if (pool === undefined || rows.length < BATCH) return null;
      }
    });
  }

  async countByStatus(status: JobStatus): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', status)
      // Jobs as users count them: a chunked job's parts are its own business (countRunningAttempts).
      .where('parent_id', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  countActive(now: Date): Promise<ActiveJobCount[]> {
    return this.queries.countActive(now, this.pools);
  }

  async expiredLeases(now: Date): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'PROGRESSING')
      .where('lease_until', '<', now.toISOString())
      .execute();
    return rows.map(fromRow);
  }

  purgeFinished(before: Date) {
    return this.queries.purgeFinished(before);
  }

  async recordSkip(n: SkipNotice, now: Date): Promise<void> {
    const at = now.toISOString();
    this.sqlite
      .transaction(() => {
        this.sqlite
          .prepare(
            `INSERT INTO ingest_skipped (bucket, key, reason, version, message, first_seen, last_seen)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (bucket, key, reason) DO UPDATE SET
               count = count + 1, version = excluded.version, message = excluded.message,
               last_seen = excluded.last_seen
             WHERE version IS NOT excluded.version`,
          )
          .run(n.bucket, n.key, n.reason, n.version ?? '', n.message, at, at);
        this.sqlite
          .prepare(
            `DELETE FROM ingest_skipped WHERE rowid IN
               (SELECT rowid FROM ingest_skipped ORDER BY last_seen DESC LIMIT -1 OFFSET ?)`,
          )
          .run(MAX_SKIP_RECORDS);
      })
      .immediate();
  }

  async listSkipped(limit: number): Promise<SkipRecord[]> {
    const rows = this.sqlite
      .prepare('SELECT * FROM ingest_skipped ORDER BY last_seen DESC, rowid DESC LIMIT ?')
      .all(limit) as SkipRecordRow[];
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

  advanceSequencer(bucket: string, key: string, sequencer: string, now: Date) {
    return this.sequencers.advanceSequencer(bucket, key, sequencer, now);
  }

  async close(): Promise<void> {
    this.work.removeAllListeners();
    await this.db.destroy();
  }
}
