// JobStore on SQLite (WAL) through Kysely. The control plane is the only process that opens the file;
// workers reach jobs through the Worker API. better-sqlite3 is synchronous, so each transaction below
// runs without interleaving and a claim is atomic.

import fs from 'node:fs';
import Database from 'better-sqlite3';
import { type Generated, Kysely, type Selectable, SqliteDialect, sql, type Transaction } from 'kysely';
import { SluiceError } from '../errors.ts';
import type { SkipNotice, SkipRecord, SkipRecordStore } from '../ingest/skip-log.ts';
import { type Job, type JobEvent, type JobStatus, type NewJob, outputSetOf } from './job.ts';
import { newJobId } from './job-id.ts';
import type { ClaimOptions, CreateResult, JobStore, LedgerEntry } from './job-store.ts';
import { hashLeaseToken } from './lease-token.ts';
import { applyTransition, type Transition } from './state-machine.ts';
import type { WorkerToken, WorkerTokenStore } from './worker-token-store.ts';

interface JobsTable {
  id: string;
  status: string;
  phase: string | null;
  percent: number;
  fps: number | null;
  speed: number | null;
  eta_seconds: number | null;
  attempts: number;
  max_attempts: number;
  run_after: string;
  /** SHA-256 of the attempt's lease token (see lease-token.ts); never the token. */
  lease_hash: string | null;
  lease_until: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  pipeline: string;
  input: string;
  input_media: string | null;
  template_name: string;
  template: string;
  destination: string;
  outputs: string;
  error_code: string | null;
  error_message: string | null;
  stderr_tail: string | null;
  user_metadata: string;
  idempotency_key: string;
  version_group: string;
  output_set: string;
  outputs_replaced_by: string | null;
}

/** Which object versions became jobs: outlives the jobs themselves (retention), so none is redone. */
interface IngestLedgerTable {
  idempotency_key: string;
  job_id: string;
  ingested_at: string;
}

interface JobEventsTable {
  id: Generated<number>;
  job_id: string;
  at: string;
  type: string;
  from_status: string | null;
  to_status: string | null;
  data: string;
}

interface Schema {
  jobs: JobsTable;
  job_events: JobEventsTable;
  ingest_ledger: IngestLedgerTable;
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
  // 18-19: remote pull workers' tokens (issue 9): only the SHA-256 of each token is kept.
  `CREATE TABLE worker_tokens (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     pool TEXT NOT NULL,
     label TEXT,
     created_at TEXT NOT NULL,
     revoked_at TEXT,
     last_used_at TEXT
   )`,
  'CREATE INDEX worker_tokens_created ON worker_tokens (created_at)',
];

/** Skip records kept at most; the oldest go first (a folder of unrelated files cannot grow the database). */
const MAX_SKIP_RECORDS = 10_000;

/** The database holds other people's jobs (and lease hashes): the owner's only, like the data dir. */
const DB_FILE_MODE = 0o600;

function toRow(job: Job): JobsTable {
  return {
    id: job.id,
    status: job.status,
    phase: job.phase,
    percent: job.progress.percent,
    fps: job.progress.fps,
    speed: job.progress.speed,
    eta_seconds: job.progress.etaSeconds,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    run_after: job.runAfter,
    lease_hash: job.leaseHash,
    lease_until: job.leaseUntil,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    updated_at: job.updatedAt,
    pipeline: job.pipeline,
    input: JSON.stringify(job.input),
    input_media: job.inputMedia ? JSON.stringify(job.inputMedia) : null,
    template_name: job.templateName,
    template: JSON.stringify(job.template),
    destination: JSON.stringify(job.destination),
    outputs: JSON.stringify(job.outputs),
    error_code: job.error?.code ?? null,
    error_message: job.error?.message ?? null,
    stderr_tail: job.stderrTail,
    user_metadata: JSON.stringify(job.userMetadata),
    idempotency_key: job.idempotencyKey,
    version_group: job.versionGroup,
    output_set: outputSetOf(job.destination),
    outputs_replaced_by: job.outputsReplacedBy,
  };
}

function fromRow(r: Selectable<JobsTable>): Job {
  return {
    id: r.id,
    status: r.status as JobStatus,
    phase: r.phase as Job['phase'],
    progress: { percent: r.percent, fps: r.fps, speed: r.speed, etaSeconds: r.eta_seconds },
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAfter: r.run_after,
    leaseHash: r.lease_hash,
    leaseUntil: r.lease_until,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    pipeline: r.pipeline,
    input: JSON.parse(r.input),
    inputMedia: r.input_media ? JSON.parse(r.input_media) : null,
    templateName: r.template_name,
    template: JSON.parse(r.template),
    destination: JSON.parse(r.destination),
    outputs: JSON.parse(r.outputs),
    error: r.error_code ? { code: r.error_code as never, message: r.error_message ?? '' } : null,
    stderrTail: r.stderr_tail,
    userMetadata: JSON.parse(r.user_metadata),
    idempotencyKey: r.idempotency_key,
    versionGroup: r.version_group,
    outputsReplacedBy: r.outputs_replaced_by,
  };
}

export class SqliteJobStore implements JobStore, SkipRecordStore, WorkerTokenStore {
  private readonly db: Kysely<Schema>;
  private readonly sqlite: Database.Database;

  constructor(file: string) {
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
    const job: Job = {
      id: newJobId(now.getTime()),
      status: 'SUBMITTED',
      phase: null,
      progress: { percent: 0, fps: null, speed: null, etaSeconds: null },
      attempts: 0,
      maxAttempts: input.maxAttempts ?? input.template.maxAttempts,
      runAfter: at,
      leaseHash: null,
      leaseUntil: null,
      createdAt: at,
      startedAt: null,
      finishedAt: null,
      updatedAt: at,
      pipeline: input.pipeline,
      input: input.input,
      inputMedia: null,
      templateName: input.templateName,
      template: input.template,
      destination: input.destination,
      outputs: [],
      error: null,
      stderrTail: null,
      userMetadata: input.userMetadata,
      idempotencyKey: input.idempotencyKey,
      versionGroup: input.versionGroup ?? input.idempotencyKey,
      outputsReplacedBy: null,
    };
    return this.db.transaction().execute(async (trx) => {
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
      await insertEvent(trx, job.id, at, 'job:created', null, 'SUBMITTED', {
        input: job.input,
        template: job.templateName,
        pipeline: job.pipeline,
        ...(input.limitsLowered ? { limitsLowered: input.limitsLowered } : {}),
      });
      return { job, created: true };
    });
  }

  async ingested(idempotencyKey: string): Promise<LedgerEntry | null> {
    const row = await this.db
      .selectFrom('ingest_ledger')
      .selectAll()
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    return row
      ? { idempotencyKey: row.idempotency_key, jobId: row.job_id, ingestedAt: row.ingested_at }
      : null;
  }

  async supersede(versionGroup: string, byJobId: string, now: Date): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('version_group', '=', versionGroup)
      .where('status', 'in', ['SUBMITTED', 'PROGRESSING'])
      .where('id', '!=', byJobId)
      .execute();
    const out: Job[] = [];
    for (const { id } of rows) {
      const message = `a newer version of the input arrived (job ${byJobId}); this job was superseded`;
      const job = await this.transition(id, { type: 'supersede', by: byJobId, message }, now).catch(
        (err: unknown) => {
          // It ended in the meantime: nothing to supersede.
          if (err instanceof SluiceError && ['INVALID_TRANSITION', 'VERSION_CONFLICT'].includes(err.code))
            return null;
          throw err;
        },
      );
      if (job) out.push(job);
    }
    return out;
  }

  async replaceOutputs(outputSet: string, byJobId: string, now: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('output_set', '=', outputSet)
      .where('status', '=', 'COMPLETE')
      .where('id', '!=', byJobId)
      .where('outputs_replaced_by', 'is', null)
      .execute();
    for (const { id } of rows) await this.transition(id, { type: 'outputs-replaced', by: byJobId }, now);
    return rows.map((r) => r.id);
  }

  async get(id: string): Promise<Job | null> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : null;
  }

  async findByIdPrefix(prefix: string, limit: number): Promise<Job[]> {
    // A range on the primary key, not LIKE: ids contain `_`, LIKE's one-character wildcard.
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '>=', prefix)
      .where('id', '<', `${prefix}\u{10ffff}`)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  async list(filter: { status?: JobStatus; limit?: number }): Promise<Job[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (filter.status) q = q.where('status', '=', filter.status);
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy(sql`rowid`, 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map(fromRow);
  }

  async events(jobId: string): Promise<JobEvent[]> {
    const rows = await this.db
      .selectFrom('job_events')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      jobId: r.job_id,
      at: r.at,
      type: r.type,
      fromStatus: r.from_status as JobStatus | null,
      toStatus: r.to_status as JobStatus | null,
      data: JSON.parse(r.data),
    }));
  }

  async transition(id: string, t: Transition, now: Date): Promise<Job> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${id}`);
      return applyAndSave(trx, fromRow(row), t, now);
    });
  }

  // `o.pool` is accepted and not used yet: pool eligibility comes with capacity pools (issue 9 item 5).
  async claimNext(leaseToken: string, leaseMs: number, now: Date, _o?: ClaimOptions): Promise<Job | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('jobs')
        .selectAll()
        .where('status', '=', 'SUBMITTED')
        .where('run_after', '<=', now.toISOString())
        .orderBy('created_at')
        // Insertion order breaks ties: ids are random within a millisecond, rowids only grow.
        .orderBy(sql`rowid`)
        .limit(1)
        .executeTakeFirst();
      if (!row) return null;
      return applyAndSave(trx, fromRow(row), { type: 'claim', leaseToken, leaseMs }, now);
    });
  }

  async countByStatus(status: JobStatus): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', status)
      .executeTakeFirstOrThrow();
    return Number(r.n);
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

  async purgeFinished(before: Date): Promise<number> {
    const r = await this.db
      .deleteFrom('jobs')
      .where('status', 'in', ['COMPLETE', 'ERROR', 'CANCELED'])
      .where('finished_at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
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
      .all(limit) as {
      bucket: string;
      key: string;
      reason: string;
      version: string;
      message: string;
      first_seen: string;
      last_seen: string;
      count: number;
    }[];
    return rows.map((r) => ({
      bucket: r.bucket,
      key: r.key,
      reason: r.reason as SkipRecord['reason'],
      message: r.message,
      version: r.version === '' ? null : r.version,
      firstSeenAt: r.first_seen,
      lastSeenAt: r.last_seen,
      count: r.count,
    }));
  }

  async createWorkerToken(
    t: { id: string; pool: string; label: string | null; hash: string },
    now: Date,
  ): Promise<WorkerToken> {
    const at = now.toISOString();
    this.sqlite
      .prepare('INSERT INTO worker_tokens (id, hash, pool, label, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(t.id, t.hash, t.pool, t.label, at);
    return { id: t.id, pool: t.pool, label: t.label, createdAt: at, revokedAt: null, lastUsedAt: null };
  }

  async listWorkerTokens(): Promise<WorkerToken[]> {
    const rows = this.sqlite
      .prepare('SELECT * FROM worker_tokens ORDER BY created_at, rowid')
      .all() as WorkerTokenRow[];
    return rows.map(fromTokenRow);
  }

  async revokeWorkerToken(id: string, now: Date): Promise<WorkerToken | null> {
    // Revoking twice keeps the first time.
    this.sqlite
      .prepare('UPDATE worker_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now.toISOString(), id);
    const row = this.sqlite.prepare('SELECT * FROM worker_tokens WHERE id = ?').get(id) as
      | WorkerTokenRow
      | undefined;
    return row ? fromTokenRow(row) : null;
  }

  async findWorkerTokenByHash(hash: string): Promise<WorkerToken | null> {
    const row = this.sqlite.prepare('SELECT * FROM worker_tokens WHERE hash = ?').get(hash) as
      | WorkerTokenRow
      | undefined;
    return row ? fromTokenRow(row) : null;
  }

  async touchWorkerToken(id: string, now: Date): Promise<void> {
    this.sqlite.prepare('UPDATE worker_tokens SET last_used_at = ? WHERE id = ?').run(now.toISOString(), id);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

interface WorkerTokenRow {
  id: string;
  pool: string;
  label: string | null;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

function fromTokenRow(r: WorkerTokenRow): WorkerToken {
  return {
    id: r.id,
    pool: r.pool,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

async function applyAndSave(trx: Transaction<Schema>, job: Job, t: Transition, now: Date): Promise<Job> {
  const { job: next, event } = applyTransition(job, t, now);
  const { id: _id, idempotency_key: _key, created_at: _created, ...changes } = toRow(next);
  // Fencing at the row too: the update only lands if nobody changed the job since we read it.
  const updated = await trx
    .updateTable('jobs')
    .set(changes)
    .where('id', '=', job.id)
    .where('updated_at', '=', job.updatedAt)
    .where('status', '=', job.status)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new SluiceError('LEASE_LOST', `job ${job.id} changed while it was being updated; try again`);
  }
  if (event.type !== 'job:progress') {
    await insertEvent(trx, job.id, next.updatedAt, event.type, event.fromStatus, event.toStatus, event.data);
  }
  return next;
}

async function insertEvent(
  trx: Transaction<Schema>,
  jobId: string,
  at: string,
  type: string,
  from: string | null,
  to: string | null,
  data: Record<string, unknown>,
): Promise<void> {
  await trx
    .insertInto('job_events')
    .values({ job_id: jobId, at, type, from_status: from, to_status: to, data: JSON.stringify(data) })
    .execute();
}
