// The scheduler is woken by its store when a job becomes claimable, not only by its polling interval:
// with an interval of an hour, a job created without any poke() is still launched. On PostgreSQL the
// job is created by another store (another control plane's connection): NOTIFY carries the wake-up.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { FakeLauncher, silentLog, tempDir, waitFor } from '../helpers.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

const HOUR = 3_600_000;

function job(key: string) {
  const template = getBuiltinTemplate('abr-default');
  return {
    pipeline: 'default',
    input: { bucket: 'source', key },
    templateName: template.name,
    template,
    destination: { bucket: 'destination', prefix: key },
    userMetadata: {},
    idempotencyKey: `k-${key}`,
  };
}

async function wokenScheduler(t: Parameters<typeof tempDir>[0], store: JobStore, creator: JobStore) {
  const launcher = new FakeLauncher();
  const scheduler = new Scheduler(
    store,
    launcher,
    { concurrency: 4, leaseMs: 30_000, intervalMs: HOUR, stopGraceMs: 10, retentionMs: 0 },
    silentLog,
  );
  t.after(() => scheduler.stop());
  let ticks = 0;
  const expired = store.expiredLeases.bind(store);
  store.expiredLeases = (now: Date) => {
    ticks++;
    return expired(now);
  };
  scheduler.start();
  await waitFor('the first tick', async () => ticks >= 1, 10_000);
  await (store as { listeningReady?: () => Promise<void> }).listeningReady?.();
  await new Promise((r) => setTimeout(r, 50)); // let the first tick finish its (empty) claim loop
  const { job: made } = await creator.create(job('woken.mp4'), new Date());
  await waitFor('the job launched without a poll', async () => launcher.launched.length === 1, 30_000);
  assert.equal(launcher.launched[0]?.jobId, made.id);
}

test('SQLite: a new job wakes the scheduler at once (its interval is an hour)', async (t) => {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  t.after(() => store.close());
  await wokenScheduler(t, store, store);
});

test('PostgreSQL: a job created by another store wakes the scheduler through NOTIFY', async (t) => {
  await requirePostgres();
  const stores: PostgresJobStore[] = [];
  const schema = freshSchema(t, async () => {
    for (const s of stores) await s.close();
  });
  const a = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema });
  const b = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema });
  stores.push(a, b);
  await a.migrate();
  await b.migrate();
  await wokenScheduler(t, a, b);
});
