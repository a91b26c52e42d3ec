// The worker-token queries both job stores run (Kysely speaks SQLite and PostgreSQL alike): only the
// insertion-order column differs (SQLite's rowid, PostgreSQL's identity column).
import { type Kysely, type RawBuilder, sql } from 'kysely';
import {
  type WorkerToken,
  type WorkerTokenStore,
  type WorkerTokensTable,
  workerTokenFromRow,
} from './worker-token-store.ts';

export class KyselyWorkerTokens implements WorkerTokenStore {
  constructor(
    private readonly db: Kysely<{ worker_tokens: WorkerTokensTable }>,
    /** Breaks ties between tokens made in the same millisecond: the order they were inserted. */
    private readonly insertionOrder: RawBuilder<unknown> = sql`rowid`,
  ) {}

  async createWorkerToken(
    t: { id: string; pool: string; label: string | null; hash: string },
    now: Date,
  ): Promise<WorkerToken> {
    const row: WorkerTokensTable = {
      id: t.id,
      pool: t.pool,
      label: t.label,
      hash: t.hash,
      created_at: now.toISOString(),
      revoked_at: null,
      last_used_at: null,
    };
    await this.db.insertInto('worker_tokens').values(row).execute();
    return workerTokenFromRow(row);
  }

  async listWorkerTokens(): Promise<WorkerToken[]> {
    const rows = await this.db
      .selectFrom('worker_tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy(this.insertionOrder)
      .execute();
    return rows.map(workerTokenFromRow);
  }

  async revokeWorkerToken(id: string, now: Date): Promise<WorkerToken | null> {
    // Revoking twice keeps the first time.
    await this.db
      .updateTable('worker_tokens')
      .set({ revoked_at: now.toISOString() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    const row = await this.db.selectFrom('worker_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? workerTokenFromRow(row) : null;
  }

  async findWorkerTokenByHash(hash: string): Promise<WorkerToken | null> {
    const row = await this.db
      .selectFrom('worker_tokens')
      .selectAll()
      .where('hash', '=', hash)
      .executeTakeFirst();
    return row ? workerTokenFromRow(row) : null;
  }

  async touchWorkerToken(id: string, now: Date): Promise<void> {
    await this.db
      .updateTable('worker_tokens')
      .set({ last_used_at: now.toISOString() })
      .where('id', '=', id)
      .execute();
  }
}
