// Which object versions were ingested is a persisted ledger of its own (issue 7, finding 9): a job purged
// by retention, a server restart (the watcher's memory gone, the database reopened) and a full rescan of
// the source bucket make no second job for a file that is still there.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Ingest } from '../../src/ingest/ingest.ts';
import { defaultPipeline } from '../../src/ingest/pipeline.ts';
import { SourceWatch } from '../../src/ingest/source-watch.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { silentLog, tempDir, waitFor } from '../helpers.ts';

/** One "server lifetime": a store opened on the data dir, ingest, and a fresh watcher (no memory). */
async function boot(dir: string) {
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const objects = new LocalObjectStore(dir);
  await objects.ensureBucket('source');
  const ingest = new Ingest(
    store,
    objects,
    [defaultPipeline('mp4-h264-aac')],
    new TemplateRegistry(null),
    silentLog,
  );
  const watcher = new SourceWatch(
    objects,
    store,
    { bucket: 'source', settleMs: 50, reconcileMs: 60_000, notifications: false },
    async (e) => {
      await ingest.handle(e);
    },
    silentLog,
  );
  /**
   * A full rescan handing every settled object to ingest. The watcher's own ledger of seen versions
   * would stop a version it handed on before ingest sees it: it is cleared, so this tests the ingest ledger.
   */
  const rescan = async () => {
    await store.forgetSeen('source', [...(await store.seenObjects('source')).keys()]);
    await watcher.reconciler.runOnce();
    await waitFor('the settle queue to empty', async () => watcher.settle.size === 0);
    await watcher.settle.drained();
  };
  return { store, objects, ingest, rescan };
}

test('a job purged by retention is not redone after a restart and a full rescan: the ingest ledger remembers the version', async (t) => {
  const dir = await tempDir(t);
  await fs.mkdir(path.join(dir, 'buckets', 'source'), { recursive: true });
  await fs.writeFile(path.join(dir, 'buckets', 'source', 'talk.mp4'), 'a video');

  const first = await boot(dir);
  await first.rescan();
  const [job] = await first.store.list({});
  assert.ok(job, 'the file became a job');
  await first.store.transition(job.id, { type: 'cancel', reason: 'test: finish it' }, new Date());
  assert.equal(await first.store.purgeFinished(new Date(Date.now() + 1000)), 1, 'retention purged the job');
  assert.equal((await first.store.list({})).length, 0);
  await first.store.close();

  const second = await boot(dir);
  t.after(() => second.store.close());
  await second.rescan();
  assert.deepEqual(await second.store.list({}), [], 'no second job for the same object version');
  assert.equal(
    (await second.store.ingested(job.idempotencyKey))?.jobId,
    job.id,
    'the ledger names the purged job',
  );

  // A new version of the file is new work.
  await fs.writeFile(path.join(dir, 'buckets', 'source', 'talk.mp4'), 'a longer video');
  await second.rescan();
  assert.equal((await second.store.list({})).length, 1, 'a new version makes a job');

  // An explicit request for a purged version does make a job again: the user asked for it.
  const again = await second.ingest.createJob({
    source: 'request',
    pipeline: 'api',
    scope: 'default',
    bucket: 'source',
    key: 'talk.mp4',
    etag: job.input.etag ?? '',
    template: 'mp4-h264-aac',
  });
  assert.equal(again.created, true);
});
