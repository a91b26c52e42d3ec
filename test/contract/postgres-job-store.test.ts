// The JobStore contract on the machine's PostgreSQL: each case in its own schema (random name), dropped
// after. Peers are separate stores, each with its own pool of connections, as separate control planes.
// PostgreSQL unreachable is a failure with a message, never a silent skip.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { PG_MIGRATIONS, PostgresJobStore, parsePostgresUrl } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { waitFor } from '../helpers.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { jobListContract } from './job-list.contract.ts';
import { jobPartsContract } from './job-parts.contract.ts';
import { jobStoreContract, type StoreFactory } from './job-store.contract.ts';
import { objectSequencerContract } from './object-sequencers.contract.ts';
import { priorityContract } from './priority.contract.ts';
import { seenObjectsContract } from './seen-objects.contract.ts';

before(requirePostgres);

const factory: StoreFactory = {
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
};
jobStoreContract('PostgresJobStore', factory);
priorityContract('PostgresJobStore', factory);
jobListContract('PostgresJobStore', factory);
jobPartsContract('PostgresJobStore', factory);
objectSequencerContract('PostgresJobStore', factory);
seenObjectsContract('PostgresJobStore', factory);

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

test('claims with and without a pool write the same job and job:claimed event on PostgreSQL as on SQLite', async (t) => {
  const pools = { pools: ['spot', 'on-demand'], fallbackMs: 60_000, preemptionsPerPool: 1 };
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-pg-vs-sqlite-'));
  const lite = new SqliteJobStore(path.join(dir, 'sluice.db'), pools);
  let postgres: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await postgres?.close();
    await lite.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  postgres = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, pools });
  await postgres.migrate();
  await lite.migrate();
  const T0 = Date.parse('2024-05-01T12:00:00.000Z');
  const job = (key: string) => ({
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1, etag: `e-${key}` },
    templateName: 'abr-default',
    template: getBuiltinTemplate('abr-default'),
    destination: { bucket: 'output', prefix: key },
    userMetadata: { n: key },
    idempotencyKey: `default|source|${key}|e-${key}`,
  });
  const run = async (store: JobStore) => {
    const ids: string[] = [];
    for (const key of ['a.mp4', 'b.mp4', 'c.mp4'])
      ids.push((await store.create(job(key), new Date(T0))).job.id);
    const seen: unknown[] = [];
    const claim = async (token: string, ms: number, pool?: string) =>
      seen.push(
        await store.claimNext(token, 30_000, new Date(T0 + ms), pool === undefined ? undefined : { pool }),
      );
    // A spot claim, a preemption (uncharged; the offer moves on to on-demand), the next job to spot, the
    // first to on-demand; a claim with no pool, a retryable failure and its second attempt (startedAt
    // kept); then nothing left.
    await claim('tok-1', 1000, 'spot');
    await store.transition(
      ids[0] as string,
      { type: 'preempt', leaseToken: 'tok-1', reason: 'SIGTERM' },
      new Date(T0 + 2000),
    );
    await claim('tok-2', 3000, 'spot');
    await claim('tok-3', 4000, 'on-demand');
    await claim('tok-4', 5000);
    await store.transition(
      ids[2] as string,
      {
        type: 'fail',
        leaseToken: 'tok-4',
        error: { code: 'TRANSCODE_FAILED', message: 'boom' },
        retryable: true,
        retryDelayMs: 0,
      },
      new Date(T0 + 6000),
    );
    await claim('tok-5', 7000);
    await claim('tok-6', 8000);
    for (const id of ids) seen.push((await store.events(id)).map(({ id: _id, jobId: _j, ...e }) => e));
    // Ids are random: compare by position.
    return JSON.parse(ids.reduce((text, id, i) => text.replaceAll(id, `JOB${i}`), JSON.stringify(seen)));
  };
  const onSqlite = await run(lite);
  const onPostgres = await run(postgres);
  assert.equal(onPostgres[0]?.pool, 'spot');
  const claimed = (i: number) => onPostgres[i] as { id: string; pool: string | null; attempts: number };
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => [claimed(i).id, claimed(i).pool, claimed(i).attempts]),
    [
      ['JOB0', 'spot', 1],
      ['JOB1', 'spot', 1],
      ['JOB0', 'on-demand', 1],
      ['JOB2', null, 1],
      ['JOB2', null, 2],
    ],
  );
  assert.equal(onPostgres[5], null);
  assert.deepEqual(onPostgres, onSqlite);
});

test('a column added under a running store (a newer migration elsewhere) does not break its prepared statements', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close();
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 1 });
  await store.migrate();
  const job = (key: string) => ({
    pipeline: 'default',
    input: { bucket: 'source', key },
    templateName: 'abr-default',
    template: getBuiltinTemplate('abr-default'),
    destination: { bucket: 'output', prefix: key },
    userMetadata: {},
    idempotencyKey: key,
  });
  const cycle = async (key: string) => {
    const { job: created } = await (store as PostgresJobStore).create(job(key), new Date());
    const claimed = await (store as PostgresJobStore).claimNext(`tok-${key}`, 30_000, new Date());
    assert.equal(claimed?.id, created.id);
    const done = await (store as PostgresJobStore).transition(
      created.id,
      { type: 'complete', leaseToken: `tok-${key}`, outputs: [] },
      new Date(),
    );
    assert.equal(done.status, 'COMPLETE');
  };
  await cycle('before.mp4');
  await admin((c) => c.query(`ALTER TABLE "${schema}".jobs ADD COLUMN added_later TEXT`));
  await cycle('after.mp4');
});
