// The JobStore contract on the machine's PostgreSQL: each case in its own schema (random name), dropped
// after. Peers are separate stores, each with its own pool of connections, as separate control planes.
// PostgreSQL unreachable is a failure with a message, never a silent skip.
import assert from 'node:assert/strict';
import { before } from 'node:test';
import { PG_MIGRATIONS, PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { jobStoreContract } from './job-store.contract.ts';

before(requirePostgres);

jobStoreContract('PostgresJobStore', {
  peersAreConnections: true,
  async open(t) {
    const opened: PostgresJobStore[] = [];
    const schema = freshSchema(t, async () => {
      for (const s of opened) await s.close().catch(() => {});
    });
    const make = () => {
      const s = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
      opened.push(s);
      return s;
    };
    const store = make();
    await store.migrate();
    return {
      store,
      async peer(o = {}) {
        const s = make();
        if (o.migrate !== false) await s.migrate();
        return s;
      },
      async migrations() {
        const r = await admin((c) =>
          c.query<{ n: string; distinct_n: string }>(
            `SELECT count(*) AS n, count(DISTINCT id) AS distinct_n FROM "${schema}".sluice_migrations`,
          ),
        );
        assert.equal(r.rows[0]?.n, r.rows[0]?.distinct_n);
        return { applied: Number(r.rows[0]?.n), known: PG_MIGRATIONS.length };
      },
      async poke(jobId, column, value) {
        await admin((c) =>
          c.query(`UPDATE "${schema}".jobs SET ${column} = $1 WHERE id = $2`, [value, jobId]),
        );
      },
      async jobsContain(text) {
        const r = await admin((c) =>
          c.query(`SELECT count(*) AS n FROM "${schema}".jobs j WHERE strpos(row_to_json(j)::text, $1) > 0`, [
            text,
          ]),
        );
        return Number(r.rows[0]?.n) > 0;
      },
    };
  },
});
