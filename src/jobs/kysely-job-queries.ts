// The job-store reads (and the retention purge) both stores run as they are: Kysely speaks SQLite and
// PostgreSQL alike here, and only the insertion-order column differs (SQLite's rowid, PostgreSQL's
// identity column). Writes stay in each store, where their locking differs.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Job, JobEvent, JobStatus } from './job.ts';
import { fromRow, type JobTables } from './job-rows.ts';
import type { LedgerEntry } from './job-store.ts';

export class KyselyJobQueries {
  constructor(
    private readonly db: Kysely<JobTables>,
    /** Breaks ties between jobs made in the same millisecond: the order they were inserted. */
    private readonly insertionOrder: RawBuilder<unknown> = sql`rowid`,
  ) {}

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
      .orderBy(this.insertionOrder, 'desc')
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
      id: Number(r.id),
      jobId: r.job_id,
      at: r.at,
      type: r.type,
      fromStatus: r.from_status as JobStatus | null,
      toStatus: r.to_status as JobStatus | null,
      data: JSON.parse(r.data),
    }));
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

  async purgeFinished(before: Date): Promise<number> {
    const r = await this.db
      .deleteFrom('jobs')
      .where('status', 'in', ['COMPLETE', 'ERROR', 'CANCELED'])
      .where('finished_at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
