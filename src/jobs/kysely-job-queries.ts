// The job-store reads (and the retention purge) both stores run as they are: Kysely speaks SQLite and
// PostgreSQL alike here, and only the insertion-order column differs (SQLite's rowid, PostgreSQL's
// identity column). Writes stay in each store, where their locking differs; supersede and replaceOutputs
// pick their jobs here and apply each change through the store's own transition.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { SluiceError } from '../errors.ts';
import type { LoggedEvent } from '../notify/cloud-event.ts';
import type { Job, JobEvent, JobStatus } from './job.ts';
import { fromRow, type JobTables, loggedEventOf } from './job-rows.ts';
import type { ActiveJobCount, JobListFilter, JobStore, LedgerEntry } from './job-store.ts';
import { eligiblePools, type PoolSettings } from './pool-offer.ts';

export class KyselyJobQueries {
  constructor(
    private readonly db: Kysely<JobTables>,
    /** Breaks ties between jobs made in the same millisecond: the order they were inserted. */
    private readonly insertionOrder: RawBuilder<unknown>,
    /** The store's own transition (its locking and fencing). */
    private readonly transition: JobStore['transition'],
    /** Where the JSON columns are read differently (the list's text search). */
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async supersede(versionGroup: string, byJobId: string, now: Date): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('version_group', '=', versionGroup)
      .where('status', 'in', ['SUBMITTED', 'PROGRESSING'])
      .where('id', '!=', byJobId)
      .orderBy(this.insertionOrder)
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
      // A chunked job's parts publish nothing of their own; their parent holds the set's outputs.
      .where('parent_id', 'is', null)
      .orderBy(this.insertionOrder)
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

  /** Runnable SUBMITTED jobs in the order claims take them (priority, then age), the first `limit`. */
  async listQueued(now: Date, limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'SUBMITTED')
      .where('run_after', '<=', now.toISOString())
      .orderBy('priority', 'desc')
      .orderBy('created_at')
      .orderBy(this.insertionOrder)
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  async list(filter: JobListFilter): Promise<Job[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    // A chunked job's parts are listed under their parent (listParts), not among the jobs.
    if (!filter.withParts) q = q.where('parent_id', 'is', null);
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.pipeline !== undefined) q = q.where('pipeline', '=', filter.pipeline);
    if (filter.q) q = q.where(this.textMatch(filter.q));
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy(this.insertionOrder, 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map(fromRow);
  }

  /**
   * The job's id, its input key or one of its userMetadata values contains `text`, case folded. The
   * pattern is bound, never spliced, and LIKE's wildcards in it are escaped: `50%_off` finds only that.
   * SQLite's LIKE folds ASCII letters only; PostgreSQL's ILIKE folds every letter.
   */
  private textMatch(text: string): RawBuilder<boolean> {
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    if (this.dialect === 'postgres') {
      return sql<boolean>`(id ILIKE ${pattern} ESCAPE '\\'
        OR (input::jsonb ->> 'key') ILIKE ${pattern} ESCAPE '\\'
        OR EXISTS (SELECT 1 FROM jsonb_each_text(user_metadata::jsonb) AS m
                   WHERE m.value ILIKE ${pattern} ESCAPE '\\'))`;
    }
    return sql<boolean>`(id LIKE ${pattern} ESCAPE '\\'
      OR json_extract(input, '$.key') LIKE ${pattern} ESCAPE '\\'
      OR EXISTS (SELECT 1 FROM json_each(jobs.user_metadata) AS m
                 WHERE m.type = 'text' AND m.value LIKE ${pattern} ESCAPE '\\'))`;
  }

  async countByStatusAndPipeline(): Promise<{ status: JobStatus; pipeline: string; jobs: number }[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select((eb) => ['status', 'pipeline', eb.fn.countAll<number | string>().as('n')])
      .where('parent_id', 'is', null)
      .groupBy(['status', 'pipeline'])
      .execute();
    return rows.map((r) => ({ status: r.status as JobStatus, pipeline: r.pipeline, jobs: Number(r.n) }));
  }

  async listParts(parentId: string): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('parent_id', '=', parentId)
      .orderBy('created_at')
      .orderBy(this.insertionOrder)
      .execute();
    return rows.map(fromRow);
  }

  /** Chunked jobs waiting on their parts: PROGRESSING, split, holding no lease (no attempt of their own runs). */
  async listSplitRunning(limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'PROGRESSING')
      .where('split', 'is not', null)
      .where('lease_hash', 'is', null)
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /** Split jobs that ended before `before` (the purge's next), whose parts areas go with them. */
  async listSplitFinished(before: Date, limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('split', 'is not', null)
      .where('status', 'in', ['COMPLETE', 'ERROR', 'CANCELED'])
      .where('finished_at', '<', before.toISOString())
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /** Parts still queued or running whose parent is no longer PROGRESSING (canceled, failed, gone). */
  async listOrphanParts(limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs as c')
      .selectAll('c')
      .where('c.parent_id', 'is not', null)
      .where('c.status', 'in', ['SUBMITTED', 'PROGRESSING'])
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('jobs as p')
              .select('p.id')
              .whereRef('p.id', '=', 'c.parent_id')
              .where('p.status', '=', 'PROGRESSING'),
          ),
        ),
      )
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  /** Attempts running now: PROGRESSING jobs that hold a lease (a split parent waiting on its parts holds none). */
  async countRunningAttempts(): Promise<number> {
    const r = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('status', '=', 'PROGRESSING')
      .where('lease_hash', 'is not', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async listByInput(inputId: string): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('input_id', '=', inputId)
      .orderBy('created_at')
      .orderBy(this.insertionOrder)
      .limit(1000)
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
    // The job's history, without the summary each event keeps for the outbox.
    return rows.map((r) => {
      const { job: _summary, ...event } = loggedEventOf(r);
      return event;
    });
  }

  /** The event log read in id order: right where one writer commits in id order (SQLite). */
  async eventsAfter(
    afterId: number | null,
    limit: number,
    filter: { jobId?: string } = {},
  ): Promise<LoggedEvent[]> {
    let q = this.db.selectFrom('job_events').selectAll();
    if (afterId !== null) q = q.where('id', '>', afterId);
    if (filter.jobId !== undefined) q = q.where('job_id', '=', filter.jobId);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map(loggedEventOf);
  }

  async lastEventId(): Promise<number | null> {
    const r = await this.db
      .selectFrom('job_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return r?.id === null || r?.id === undefined ? null : Number(r.id);
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

  async countActive(now: Date, pools: PoolSettings): Promise<ActiveJobCount[]> {
    // The pool rule (pool-offer.ts) needs a queued job's preemptions and the fallback waits that passed
    // since its offer began; the waits are counted in SQL against thresholds computed here (ISO times
    // sort as text in both stores), so the rows are grouped, never read one by one.
    const top = Math.max(0, pools.pools.length - 1);
    const offered = sql`COALESCE(NULLIF(offered_at, ''), run_after)`;
    let waits: RawBuilder<number> = sql<number>`0`;
    if (top > 0 && pools.fallbackMs <= 0) waits = sql<number>`${sql.lit(top)}`;
    else if (top > 0) {
      const steps = [];
      for (let k = top; k >= 1; k--) {
        const at = new Date(now.getTime() - k * pools.fallbackMs).toISOString();
        steps.push(sql`WHEN ${offered} <= ${at} THEN ${sql.lit(k)}`);
      }
      waits = sql<number>`CASE ${sql.join(steps, sql` `)} ELSE 0 END`;
    }
    const rows = await this.db
      .selectFrom('jobs')
      .select((eb) => [
        'status',
        'pipeline',
        sql<string | null>`CASE WHEN status = 'PROGRESSING' THEN pool END`.as('pool'),
        sql<number>`CASE WHEN status = 'SUBMITTED' THEN preemptions ELSE 0 END`.as('preemptions'),
        sql<number>`CASE WHEN status = 'SUBMITTED' THEN ${waits} ELSE 0 END`.as('waits'),
        eb.fn.countAll<number | string>().as('n'),
      ])
      .where('status', 'in', ['SUBMITTED', 'PROGRESSING'])
      // A split parent runs nothing itself: its parts are the work, each counted on its own.
      .where((eb) => eb.or([eb('status', '=', 'SUBMITTED'), eb('lease_hash', 'is not', null)]))
      .groupBy(sql`1, 2, 3, 4, 5`)
      .execute();
    const counts = new Map<string, ActiveJobCount>();
    for (const r of rows) {
      const status = r.status as ActiveJobCount['status'];
      let pool = r.pool ?? 'any';
      if (status === 'SUBMITTED') {
        // The state the grouped row stands for: that many preemptions, that many waits passed.
        const offeredAt = new Date(now.getTime() - Number(r.waits) * pools.fallbackMs).toISOString();
        const { last } = eligiblePools(pools, { offeredAt, preemptions: Number(r.preemptions) }, now);
        pool = pools.pools[last] ?? 'any';
      }
      const key = `${status}\n${r.pipeline}\n${pool}`;
      const c = counts.get(key) ?? { status, pipeline: r.pipeline, pool, jobs: 0 };
      c.jobs += Number(r.n);
      counts.set(key, c);
    }
    return [...counts.values()];
  }
}
