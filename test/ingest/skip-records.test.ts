// Ingest records of skipped objects on real SQLite and a real LocalObjectStore: the watcher reconciling
// many times writes one record per key + reason + version; a new version counts, the same one does not; a
// symlink is reported once while it stays; the store keeps newest first.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { SkipLog, type SkipNotice } from '../../src/ingest/skip-log.ts';
import { SourceWatch } from '../../src/ingest/source-watch.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { silentLog, tempDir, waitFor } from '../helpers.ts';

const T0 = 1_700_000_000_000;

async function fixture(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await tempDir(t, 'sluice-skips-');
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  t.after(() => store.close());
  const objects = new LocalObjectStore(dir, silentLog);
  await objects.ensureBucket('source');
  const skips = new SkipLog(store, silentLog);
  const notices: SkipNotice[] = [];
  objects.onLinkSkipped = (bucket, key, target) =>
    void skips.report({ bucket, key, reason: 'SYMLINK', version: target, message: 'a link' });
  const watcher = new SourceWatch(
    objects,
    store,
    { bucket: 'source', settleMs: 100, reconcileMs: 60_000, notifications: false },
    async () => {},
    silentLog,
    async (n) => {
      notices.push(n);
      await skips.report(n);
    },
  );
  t.after(() => watcher.stop());
  return { dir, store, objects, skips, watcher, notices, source: path.join(dir, 'buckets', 'source') };
}

test('a temp name reconciled ten times is one record of count 1; a symlink is one record', async (t) => {
  const f = await fixture(t);
  const outside = await tempDir(t, 'sluice-skips-out-');
  await fs.writeFile(path.join(outside, 'x.mp4'), 'x');
  await fs.writeFile(path.join(f.source, 'movie.mp4.part'), 'half');
  await fs.symlink(path.join(outside, 'x.mp4'), path.join(f.source, 'link.mp4'));
  for (let i = 0; i < 10; i++) await f.watcher.reconciler.runOnce();
  await waitFor('the skip records', async () => (await f.store.listSkipped(100)).length === 2);
  assert.equal(
    f.notices.filter((n) => n.key === 'movie.mp4.part').length,
    10,
    'the watcher tells every reconcile',
  );
  const recs = await f.store.listSkipped(100);
  assert.deepEqual(recs.map((r) => [r.key, r.reason, r.count]).sort(), [
    ['link.mp4', 'SYMLINK', 1],
    ['movie.mp4.part', 'TEMP_NAME', 1],
  ]);
});

test('the store counts versions, not reports, and lists newest first within the limit', async (t) => {
  const f = await fixture(t);
  const n = (key: string, version: string): SkipNotice => ({
    bucket: 'source',
    key,
    reason: 'INVALID_SETTINGS',
    version,
    message: `bad ${version}`,
  });
  await f.store.recordSkip(n('jobs/a.json', 'v1'), new Date(T0));
  await f.store.recordSkip(n('jobs/a.json', 'v1'), new Date(T0 + 1000));
  await f.store.recordSkip(n('jobs/b.json', 'v1'), new Date(T0 + 2000));
  await f.store.recordSkip(n('jobs/a.json', 'v2'), new Date(T0 + 3000));
  const recs = await f.store.listSkipped(10);
  assert.deepEqual(
    recs.map((r) => [r.key, r.count, r.version, r.message]),
    [
      ['jobs/a.json', 2, 'v2', 'bad v2'],
      ['jobs/b.json', 1, 'v1', 'bad v1'],
    ],
  );
  assert.equal(recs[0]?.firstSeenAt, new Date(T0).toISOString());
  assert.equal(recs[0]?.lastSeenAt, new Date(T0 + 3000).toISOString());
  assert.equal((await f.store.listSkipped(1)).length, 1);
});
