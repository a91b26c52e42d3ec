// The highest S3 sequencer seen per object key (ingest/sequencer.ts), in both job stores alike: one
// upsert that only ever raises the stored value, then a read of what is stored. Concurrent deliveries
// serialize on the row; whichever is lower reads the higher one back and is stale.
import type { Kysely } from 'kysely';
import { normalizeSequencer, type ObjectSequencerStore } from '../ingest/sequencer.ts';

export interface ObjectSequencersTable {
  bucket: string;
  key: string;
  sequencer: string;
  updated_at: string;
}

export class KyselyObjectSequencers implements ObjectSequencerStore {
  constructor(private readonly db: Kysely<{ object_sequencers: ObjectSequencersTable }>) {}

  async advanceSequencer(bucket: string, key: string, sequencer: string, now: Date) {
    const seq = normalizeSequencer(sequencer);
    await this.db
      .insertInto('object_sequencers')
      .values({ bucket, key, sequencer: seq, updated_at: now.toISOString() })
      .onConflict((oc) =>
        oc
          .columns(['bucket', 'key'])
          .doUpdateSet((eb) => ({
            sequencer: eb.ref('excluded.sequencer'),
            updated_at: eb.ref('excluded.updated_at'),
          }))
          .where('object_sequencers.sequencer', '<', seq),
      )
      .execute();
    const row = await this.db
      .selectFrom('object_sequencers')
      .select('sequencer')
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    return row.sequencer > seq ? 'stale' : 'current';
  }
}
