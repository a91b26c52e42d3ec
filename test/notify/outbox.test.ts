// The outbox contract (and the event log it reads) on SQLite (a fresh file per case) and on the machine's PostgreSQL (a schema per case).

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { NewJob } from '../../src/jobs/job.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { MIGRATIONS, SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { OUTBOX_START_SQLITE } from '../../src/notify/delivery-tables.ts';
import { SINKS_CONSUMER } from '../../src/notify/outbox.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { outboxContract } from './outbox.contract.ts';

const T0 = new Date('2024-05-01T12:00:00.000Z');
const TEMPLATE = getBuiltinTemplate('abr-default');

function jobFor(key: string): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, etag: `e-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|e-${key}`,
  };
}

before(requirePostgres);

outboxContract('SQLite', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-outbox-'));
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  t.after(async () => {
    await store.close().catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  });
  await store.migrate();
  return store;
});

outboxContract('PostgreSQL', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close().catch(() => {});
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
  await store.migrate();
  return store;
});

test('PostgreSQL event log: an event committed late (a lower id, a slower transaction) is not passed by a reader', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close().catch(() => {});
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
  await store.migrate();
  const first = await store.create(jobFor('a.mp4'), T0);
  const start = await store.lastEventId();
  // A transaction takes the next id, then is slow to commit, while a second event commits.
  const slow = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await slow.connect();
  // Ended before the schema is dropped (the drop would wait on its open transaction), pass or fail.
  let open = true;
  const endSlow = async () => {
    if (open) await slow.query('ROLLBACK').catch(() => {});
    open = false;
    await slow.end().catch(() => {});
  };
  try {
    await slow.query('BEGIN');
    await slow.query(`INSERT INTO job_events (job_id, at, type, data) VALUES ($1, $2, 'job:slow', '{}')`, [
      first.job.id,
      T0.toISOString(),
    ]);
    const second = await store.create(jobFor('b.mp4'), T0);
    assert.deepEqual(
      await store.eventsAfter(start, 10),
      [],
      'nothing past the slow transaction until it ends (else the reader moves past its event for good)',
    );
    await slow.query('COMMIT');
    open = false;
    // Other tests' transactions on this server hold the horizon back a moment at most.
    let read = await store.eventsAfter(start, 10);
    for (let i = 0; i < 500 && read.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      read = await store.eventsAfter(start, 10);
    }
    assert.deepEqual(
      read.map((e) => [e.jobId, e.type]),
      [
        [first.job.id, 'job:slow'],
        [second.job.id, 'job:created'],
      ],
    );
    assert.ok((read[0]?.id ?? 0) < (read[1]?.id ?? 0), 'the slow one had the lower id');
    assert.deepEqual(
      await store.eventsAfter(read[1]?.id ?? null, 10),
      [],
      'and reading on from the last misses nothing',
    );
    assert.deepEqual(
      (await store.eventsAfter(start, 10, { jobId: second.job.id })).map((e) => e.type),
      ['job:created'],
    );
  } finally {
    await endSlow();
  }
});

test('PostgreSQL event log: a transaction left open in another database of the server does not hold it back', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close().catch(() => {});
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
  await store.migrate();
  const start = await store.lastEventId();
  // Another application on the same server: a write transaction (it has an xid) idle in another database.
  const elsewhere = new URL(TEST_DATABASE_URL);
  elsewhere.pathname = '/postgres';
  const other = new pg.Client({ connectionString: elsewhere.toString() });
  await other.connect();
  try {
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');
    const made = await store.create(jobFor('c.mp4'), T0);
    // Other tests' own transactions in this database may hold it a moment; the idle one elsewhere never does.
    let read = await store.eventsAfter(start, 10);
    for (let i = 0; i < 500 && read.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      read = await store.eventsAfter(start, 10);
    }
    assert.deepEqual(
      read.map((e) => [e.jobId, e.type]),
      [[made.job.id, 'job:created']],
      'read while the other database’s transaction is still open',
    );
  } finally {
    await other.query('ROLLBACK').catch(() => {});
    await other.end().catch(() => {});
  }
});

test('SQLite upgrade: a database with job events from before the outbox starts it at their head (no history replayed)', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-upgrade-'));
  const file = path.join(dir, 'sluice.db');
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  {
    const old = new SqliteJobStore(file);
    await old.migrate();
    await old.create(jobFor('old.mp4'), T0);
    await old.close();
    // As the version before this migration left it: events, and no start recorded.
    const db = new Database(file);
    db.exec('DELETE FROM outbox_positions');
    // And without what later migrations added (chunked jobs' columns, issue 13), which run again.
    db.exec(`DROP INDEX jobs_parent;
      ALTER TABLE jobs DROP COLUMN parent_id; ALTER TABLE jobs DROP COLUMN part; ALTER TABLE jobs DROP COLUMN split`);
    db.pragma(`user_version = ${MIGRATIONS.indexOf(OUTBOX_START_SQLITE)}`);
    db.close();
  }
  const store = new SqliteJobStore(file);
  t.after(() => store.close());
  await store.migrate();
  const head = await store.lastEventId();
  assert.ok(head !== null && head > 0);
  assert.equal(await store.deliveries.outboxPosition(SINKS_CONSUMER), head, 'the upgrade starts at the head');
});

test('SQLite event log: read in id order from a position, one job or all, with each event’s summary', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-log-'));
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  t.after(async () => {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  await store.migrate();
  assert.equal(await store.lastEventId(), null);
  const a = await store.create(jobFor('a.mp4'), T0);
  const b = await store.create(jobFor('b.mp4'), T0);
  await store.transition(a.job.id, { type: 'cancel', reason: 'test' }, T0);
  const all = await store.eventsAfter(null, 10);
  assert.deepEqual(
    all.map((e) => [e.jobId, e.type, e.job?.status]),
    [
      [a.job.id, 'job:created', 'SUBMITTED'],
      [b.job.id, 'job:created', 'SUBMITTED'],
      [a.job.id, 'job:canceled', 'CANCELED'],
    ],
  );
  assert.equal(await store.lastEventId(), all[2]?.id);
  assert.deepEqual(
    (await store.eventsAfter(all[0]?.id ?? null, 10)).map((e) => e.id),
    [all[1]?.id, all[2]?.id],
  );
  assert.deepEqual(
    (await store.eventsAfter(null, 10, { jobId: a.job.id })).map((e) => e.type),
    ['job:created', 'job:canceled'],
  );
  assert.equal((await store.eventsAfter(null, 1)).length, 1, 'the limit holds');
});
