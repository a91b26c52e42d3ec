// The ledger of seen object versions (ingest/seen-objects.ts) on Kysely: the same statements for SQLite
// and PostgreSQL (an upsert on the primary key, deletes in chunks that stay under SQLite's parameter limit).
import type { Kysely } from 'kysely';
import type { IngestSeenTable, SeenObjectStore, SeenVersions } from '../ingest/seen-objects.ts';

/** Keys per DELETE: well under SQLite's 32,766 parameters and PostgreSQL's 65,535. */
const FORGET_CHUNK = 500;

export class KyselySeenObjects implements SeenObjectStore {
  constructor(private readonly db: Kysely<{ ingest_seen: IngestSeenTable }>) {}

  async seenObjects(bucket: string): Promise<SeenVersions> {
    const rows = await this.db
      .selectFrom('ingest_seen')
      .select(['key', 'etag'])
      .where('bucket', '=', bucket)
      .execute();
    return new Map(rows.map((r) => [r.key, r.etag]));
  }

  async seenVersion(bucket: string, key: string): Promise<string | null> {
    const row = await this.db
      .selectFrom('ingest_seen')
      .select('etag')
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.etag ?? null;
  }

  async markSeen(bucket: string, key: string, etag: string, now: Date): Promise<void> {
    const at = now.toISOString();
    await this.db
      .insertInto('ingest_seen')
      .values({ bucket, key, etag, seen_at: at })
      .onConflict((oc) => oc.columns(['bucket', 'key']).doUpdateSet({ etag, seen_at: at }))
      .execute();
  }

  async forgetSeen(bucket: string, keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < keys.length; i += FORGET_CHUNK) {
      const r = await this.db
        .deleteFrom('ingest_seen')
        .where('bucket', '=', bucket)
        .where('key', 'in', keys.slice(i, i + FORGET_CHUNK))
        .executeTakeFirst();
      removed += Number(r.numDeletedRows);
    }
    return removed;
  }
}
