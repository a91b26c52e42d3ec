// Lease tokens at rest: the job store keeps only a SHA-256 of each attempt's token, so reading the
// database file (or its WAL) gives nobody a token that the Worker API would accept.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SluiceError } from '../../src/errors.ts';
import type { NewJob } from '../../src/jobs/job.ts';
import { newToken } from '../../src/jobs/job-id.ts';
import { MIGRATIONS, SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { tempDir } from '../helpers.ts';

const TEMPLATE = getBuiltinTemplate('mp4-h264-aac');
const LEASE_MS = 30_000;

function newJob(key: string): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'destination', prefix: key.replace(/\.[^.]+$/, '') },
    userMetadata: {},
    idempotencyKey: `default|source|${key}|etag-${key}`,
  };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The bytes of the database file and of its -wal/-shm, as a local user could read them. */
async function rawBytes(file: string): Promise<Buffer> {
  const parts = await Promise.all(
    [file, `${file}-wal`, `${file}-shm`].map((f) => fs.readFile(f).catch(() => Buffer.alloc(0))),
  );
  return Buffer.concat(parts);
}

test('the database file and its table hold no plain lease token, and the token still drives the job', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'sluice.db');
  const store = new SqliteJobStore(file);
  t.after(() => store.close().catch(() => {}));
  await store.migrate();
  const { job } = await store.create(newJob('a.mp4'), new Date());
  await store.create(newJob('b.mp4'), new Date());
  const tokens = [newToken(), newToken()];
  await store.claimNext(tokens[0] as string, LEASE_MS, new Date());
  await store.claimNext(tokens[1] as string, LEASE_MS, new Date());
  await store.transition(
    job.id,
    { type: 'start', leaseToken: tokens[0] as string, leaseMs: LEASE_MS },
    new Date(),
  );

  // The table as SQL sees it: no column of any row carries a token; the lease column holds its hash.
  const raw = new Database(file, { readonly: true });
  const rows = raw.prepare('SELECT * FROM jobs').all() as Record<string, unknown>[];
  const events = raw.prepare('SELECT * FROM job_events').all() as Record<string, unknown>[];
  raw.close();
  const text = JSON.stringify([rows, events]);
  for (const token of tokens) assert.ok(!text.includes(token), 'no plain token in the jobs or events tables');
  const hashes = rows.map((r) =>
    Object.values(r).find((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)),
  );
  assert.deepEqual(
    hashes.sort(),
    tokens.map(sha256).sort(),
    'each lease is kept as the SHA-256 of its token',
  );
  // The bytes on disk, while the store is open (database + WAL) ...
  const open = await rawBytes(file);
  for (const token of tokens) assert.equal(open.indexOf(token), -1, 'no plain token in the file or its WAL');

  // ... and the hash is what fences: the plain token works, the hash itself (as read from disk) does not.
  const hash = sha256(tokens[0] as string);
  await assert.rejects(
    store.transition(job.id, { type: 'heartbeat', leaseToken: hash, leaseMs: LEASE_MS }, new Date()),
    (err: unknown) => err instanceof SluiceError && err.code === 'LEASE_LOST',
    'a token read back from the database is refused',
  );
  const beat = await store.transition(
    job.id,
    { type: 'heartbeat', leaseToken: tokens[0] as string, leaseMs: LEASE_MS, progress: { percent: 5 } },
    new Date(),
  );
  assert.equal(beat.progress.percent, 5);
  await store.close();
  const closed = await rawBytes(file);
  for (const token of tokens) assert.equal(closed.indexOf(token), -1, 'none after close either');
});

test('a database made before hashing: its plain lease tokens are hashed by the migration and still fence', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'sluice.db');
  // The schema as the release before hashing left it (its five migrations), with a running attempt whose
  // plain token sits in lease_token.
  const db = new Database(file);
  for (const m of MIGRATIONS.slice(0, 5)) db.exec(m);
  db.pragma('user_version = 5');
  const token = newToken();
  const now = new Date().toISOString();
  const job = { id: 'job_old', idempotencyKey: 'old' };
  db.prepare(
    `INSERT INTO jobs (id, status, attempts, max_attempts, run_after, lease_token, lease_until, created_at,
       updated_at, pipeline, input, template_name, template, destination, idempotency_key)
     VALUES (?, 'PROGRESSING', 1, 3, ?, ?, ?, ?, ?, 'default', ?, 'abr-default', ?, ?, ?)`,
  ).run(
    job.id,
    now,
    token,
    new Date(Date.now() + LEASE_MS).toISOString(),
    now,
    now,
    JSON.stringify({ bucket: 'source', key: 'old.mp4', etag: 'e' }),
    JSON.stringify(newJob('old.mp4').template),
    JSON.stringify({ bucket: 'destination', prefix: 'old' }),
    job.idempotencyKey,
  );
  db.close();

  const store = new SqliteJobStore(file);
  t.after(() => store.close().catch(() => {}));
  await store.migrate();
  const beat = await store.transition(
    job.id,
    { type: 'heartbeat', leaseToken: token, leaseMs: LEASE_MS, progress: { percent: 7 } },
    new Date(),
  );
  assert.equal(beat.progress.percent, 7, 'the running attempt keeps its job across the upgrade');
  await store.close();
  assert.equal((await rawBytes(file)).indexOf(token), -1, 'the plain token is gone from the file');
});
