// The JobStore contract on the machine's PostgreSQL: each case in its own schema (random name), dropped
// after. Peers are separate stores, each with its own pool of connections, as separate control planes.
// PostgreSQL unreachable is a failure with a message, never a silent skip.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { PG_MIGRATIONS, PostgresJobStore, parsePostgresUrl } from '../../src/jobs/postgres-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { waitFor } from '../helpers.ts';
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

test('PostgreSQL that does not answer is DATABASE_UNREACHABLE at migrate(), naming where without the password', async () => {
  const store = new PostgresJobStore({ connectionString: 'postgres://postgres:s3cret@127.0.0.1:1/test' });
  try {
    await assert.rejects(store.migrate(), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'DATABASE_UNREACHABLE');
      assert.match(err.message, /127\.0\.0\.1:1\/test/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
  } finally {
    await store.close();
  }
});

test('SLUICE_DATABASE_URL: ?schema= picks the schema; a bad name or ?options= is refused', () => {
  assert.deepEqual(parsePostgresUrl('postgres://u@h:5/db?schema=run_1&sslmode=disable'), {
    connectionString: 'postgres://u@h:5/db?sslmode=disable',
    schema: 'run_1',
  });
  assert.equal(parsePostgresUrl('postgres://u@h/db').schema, 'public');
  for (const bad of [
    'postgres://u@h/db?schema=a-b',
    'postgres://u@h/db?schema=Upper',
    'postgres://u@h/db?schema=x%22;drop',
    'postgres://u@h/db?options=-c%20search_path%3Dx',
  ]) {
    assert.throws(
      () => parsePostgresUrl(bad),
      (err: unknown) => err instanceof SluiceError && err.code === 'VALIDATION_FAILED',
      bad,
    );
  }
});

test('the listening connection, killed by the server, reconnects and wakes listeners again', async (t) => {
  const opened: PostgresJobStore[] = [];
  const schema = freshSchema(t, async () => {
    for (const s of opened) await s.close();
  });
  const store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema });
  const other = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema });
  opened.push(store, other);
  await store.migrate();
  let calls = 0;
  const off = store.onWork(() => {
    calls++;
  });
  t.after(off);
  await store.listeningReady();
  const listener = async () => {
    const r = await admin((c) =>
      c.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' AND state = 'idle'",
        [`sluice-listen:${schema}`],
      ),
    );
    return r.rows[0]?.pid ?? null;
  };
  const first = await waitFor('the listening connection', listener, 10_000);
  await admin((c) => c.query('SELECT pg_terminate_backend($1)', [first]));
  await waitFor('a new listening connection', async () => {
    const pid = await listener();
    return pid !== null && pid !== first;
  });
  await store.listeningReady(); // its own catch-up wake-up is behind us
  const before = calls;
  await other.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'x.mp4' },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'destination', prefix: 'x' },
      userMetadata: {},
      idempotencyKey: 'after-reconnect',
    },
    new Date(),
  );
  await waitFor('a wake-up after the reconnect', async () => calls > before, 10_000);
});
