// Jobs made before the pipelines migrations get, from the migration itself, the input id inputIdOf
// computes (SQL on each store: SQLite and the machine's PostgreSQL), priority 0 and no backoff of their own.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { inputIdOf } from '../../src/jobs/input-group.ts';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import { PG_MIGRATIONS, PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { MIGRATIONS, SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { tempDir } from '../helpers.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

before(requirePostgres);

/** Old rows: a non-ASCII key with a space, and an input without an etag. */
const INPUTS = [
  { id: 'job_old_1', input: { bucket: 'source', key: 'inputs/día 1.mp4', size: 3, etag: 'abc"1' } },
  { id: 'job_old_2', input: { bucket: 'source', key: 'b.mov' } },
];

const ROW = (id: string, input: object) => ({
  id,
  status: 'SUBMITTED',
  max_attempts: 3,
  run_after: '2024-01-01T00:00:00.000Z',
  created_at: '2024-01-01T00:00:00.000Z',
  updated_at: '2024-01-01T00:00:00.000Z',
  pipeline: 'default',
  input: JSON.stringify(input),
  template_name: 't',
  template: '{}',
  destination: JSON.stringify({ bucket: 'destination', prefix: 'x' }),
  idempotency_key: id,
});

function firstPipelinesMigration(list: readonly string[]): number {
  const i = list.findIndex((m) => m.includes('ADD COLUMN priority'));
  assert.ok(i > 0, 'the pipelines migrations are there');
  return i;
}

test('SQLite: the pipelines migration fills input_id as inputIdOf does', async (t) => {
  const file = path.join(await tempDir(t), 'sluice.db');
  const db = new Database(file);
  db.function('sluice_sha256', { deterministic: true }, (v: unknown) =>
    v === null ? null : hashLeaseToken(String(v)),
  );
  const k = firstPipelinesMigration(MIGRATIONS);
  for (const m of MIGRATIONS.slice(0, k)) db.exec(m);
  db.pragma(`user_version = ${k}`);
  for (const { id, input } of INPUTS) {
    const row = ROW(id, input);
    db.prepare(
      `INSERT INTO jobs (${Object.keys(row).join(', ')}) VALUES (${Object.keys(row)
        .map(() => '?')
        .join(', ')})`,
    ).run(...Object.values(row));
  }
  db.close();
  const store = new SqliteJobStore(file);
  t.after(() => store.close());
  await store.migrate();
  for (const { id, input } of INPUTS) {
    const job = await store.get(id);
    assert.equal(job?.inputId, inputIdOf(input));
    assert.equal(job?.priority, 0);
    assert.equal(job?.retryBackoff, null);
  }
});

test('PostgreSQL: the pipelines migration fills input_id as inputIdOf does', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close();
  });
  const k = firstPipelinesMigration(PG_MIGRATIONS);
  await admin(async (c) => {
    await c.query(`CREATE SCHEMA "${schema}"`);
    await c.query(`SET search_path = "${schema}"`);
    await c.query(
      'CREATE TABLE sluice_migrations (id INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    for (const [i, m] of PG_MIGRATIONS.slice(0, k).entries()) {
      await c.query(m);
      await c.query('INSERT INTO sluice_migrations (id) VALUES ($1)', [i + 1]);
    }
    for (const { id, input } of INPUTS) {
      const row = ROW(id, input);
      await c.query(
        `INSERT INTO jobs (${Object.keys(row).join(', ')}, version_group, output_set) VALUES (${Object.keys(
          row,
        )
          .map((_, i) => `$${i + 1}`)
          .join(', ')}, '', '')`,
        Object.values(row),
      );
    }
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 2 });
  await store.migrate();
  for (const { id, input } of INPUTS) {
    const job = await store.get(id);
    assert.equal(job?.inputId, inputIdOf(input));
    assert.equal(job?.priority, 0);
    assert.equal(job?.retryBackoff, null);
  }
});
