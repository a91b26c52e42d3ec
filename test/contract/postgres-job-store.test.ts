// The JobStore contract on the machine's PostgreSQL: each case in its own schema (random name), dropped
// after. Peers are separate stores, each with its own pool of connections, as separate control planes.
// PostgreSQL unreachable is a failure with a message, never a silent skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before } from 'node:test';
import pg from 'pg';
import { PG_MIGRATIONS, PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { jobStoreContract } from './job-store.contract.ts';

export const TEST_DATABASE_URL =
  process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

before(async () => {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
  } catch (err) {
    const why = `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}). The PostgreSQL JobStore contract needs it: start PostgreSQL (user postgres, database test, trust auth on 127.0.0.1:5432) or set SLUICE_TEST_DATABASE_URL.`;
    process.stderr.write(`\n*** ${why}\n\n`);
    assert.fail(why);
  } finally {
    await c.end().catch(() => {});
  }
});

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

jobStoreContract('PostgresJobStore', {
  peersAreConnections: true,
  async open(t) {
    const schema = `sluice_test_${randomBytes(6).toString('hex')}`;
    const opened: PostgresJobStore[] = [];
    t.after(async () => {
      for (const s of opened) await s.close().catch(() => {});
      await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
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
