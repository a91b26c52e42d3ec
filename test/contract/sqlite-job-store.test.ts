// The JobStore contract on SQLite: a fresh file per case. One process opens a SQLite database (the data
// directory lock sees to it), so its "peers" are the store itself: concurrency here is concurrent calls.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { jobListContract } from './job-list.contract.ts';
import { jobPartsContract } from './job-parts.contract.ts';
import { jobStoreContract, type StoreFactory } from './job-store.contract.ts';
import { objectSequencerContract } from './object-sequencers.contract.ts';
import { priorityContract } from './priority.contract.ts';
import { seenObjectsContract } from './seen-objects.contract.ts';

const factory: StoreFactory = {
  peersAreConnections: false,
  async open(t) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-contract-'));
    const file = path.join(dir, 'sluice.db');
    const opened: SqliteJobStore[] = [];
    t.after(async () => {
      for (const s of opened) await s.close().catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    });
    const store = new SqliteJobStore(file);
    opened.push(store);
    await store.migrate();
    const raw = <T>(fn: (db: Database.Database) => T): T => {
      const db = new Database(file);
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    return {
      store,
      async peer(o = {}) {
        if (o.migrate === false) {
          // Migration from a second store (a restart on the same file) is what a peer can test here.
          const s = new SqliteJobStore(file);
          opened.push(s);
          return s;
        }
        return store;
      },
      async migrations() {
        const applied = raw((db) => db.pragma('user_version', { simple: true }) as number);
        return { applied, known: MIGRATIONS.length };
      },
      async poke(jobId, column, value) {
        raw((db) => db.prepare(`UPDATE jobs SET ${column} = ? WHERE id = ?`).run(value, jobId));
      },
      async jobsContain(text) {
        const rows = raw((db) => db.prepare('SELECT * FROM jobs').all() as Record<string, unknown>[]);
        return rows.some((r) => Object.values(r).some((v) => String(v).includes(text)));
      },
    };
  },
};
jobStoreContract('SqliteJobStore', factory);
priorityContract('SqliteJobStore', factory);
jobListContract('SqliteJobStore', factory);
jobPartsContract('SqliteJobStore', factory);
objectSequencerContract('SqliteJobStore', factory);
seenObjectsContract('SqliteJobStore', factory);
