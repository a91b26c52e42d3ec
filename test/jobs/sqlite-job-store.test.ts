// SqliteJobStore on a real SQLite file: what is SQLite's own (the file, WAL, its tables). Everything a
// JobStore does is in the contract suite (test/contract/), run on SQLite and PostgreSQL alike.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { NewJob } from '../../src/jobs/job.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');

function newJob(key: string, over: Partial<NewJob> = {}): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1234, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key.replace(/\.[^.]+$/, '') },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|etag-${key}`,
    ...over,
  };
}

type TestContext = { after: (fn: () => Promise<void>) => void };

/** A fresh temp dir per test; every store opened on it is closed before the dir is removed. */
async function fixture(t: TestContext) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-jobstore-'));
  const file = path.join(dir, 'sluice.db');
  const stores: SqliteJobStore[] = [];
  t.after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  });
  const open = async (migrate = true): Promise<SqliteJobStore> => {
    const s = new SqliteJobStore(file);
    stores.push(s);
    if (migrate) await s.migrate();
    return s;
  };
  return { dir, file, open, store: await open() };
}

test('migrate() is idempotent: twice on one store and again from a second store on the same file', async (t) => {
  const { file, open, store } = await fixture(t);
  await store.migrate(); // second time on the same store
  const { job } = await store.create(newJob('a.mp4'), T0);

  const second = await open(false);
  await second.migrate();
  await second.migrate();
  assert.deepEqual(await second.get(job.id), job, 'data survives re-migration');
  assert.equal((await second.list({})).length, 1);

  const raw = new Database(file, { readonly: true });
  try {
    const tables = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('jobs', 'job_events')")
      .all() as { name: string }[];
    assert.deepEqual(tables.map((r) => r.name).sort(), ['job_events', 'jobs']);
  } finally {
    raw.close();
  }
});

test('the database file is in WAL mode', async (t) => {
  const { file, store } = await fixture(t);
  await store.create(newJob('a.mp4'), T0);
  assert.ok(existsSync(`${file}-wal`), 'a -wal file exists next to the database while it is open');
  const raw = new Database(file, { readonly: true });
  try {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  } finally {
    raw.close();
  }
});
