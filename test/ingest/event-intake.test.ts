// EventIntake on real stores (SQLite, and PostgreSQL on the machine) and a real local bucket: the same
// notification delivered many times, versions arriving out of order, and concurrent deliveries of one
// new event each make exactly one job per object version.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { before, test } from 'node:test';
import { EventIntake } from '../../src/ingest/event-intake.ts';
import { Ingest } from '../../src/ingest/ingest.ts';
import type { Notification } from '../../src/ingest/notifications/object-reference.ts';
import { parseS3Notification } from '../../src/ingest/notifications/s3-event.ts';
import { defaultPipeline } from '../../src/ingest/pipeline.ts';
import type { ServiceJobStore } from '../../src/jobs/open-job-store.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { silentLog, tempDir } from '../helpers.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { s3Record } from './notification-samples.ts';

before(requirePostgres);

type T = Parameters<typeof tempDir>[0];

const STORES: Record<string, (t: T, dir: string) => Promise<ServiceJobStore>> = {
  sqlite: async (_t, dir) => new SqliteJobStore(path.join(dir, 'sluice.db')),
  postgres: async (t) => {
    let store: PostgresJobStore | null = null;
    const schema = freshSchema(t, async () => {
      await store?.close();
    });
    store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema });
    return store;
  },
};

async function fixture(t: T, kind: string) {
  const dir = await tempDir(t);
  const store = await (STORES[kind] as (t: T, dir: string) => Promise<ServiceJobStore>)(t, dir);
  await store.migrate();
  if (kind === 'sqlite') t.after(() => store.close());
  const objects = new LocalObjectStore(dir);
  await objects.ensureBucket('source');
  const ingest = new Ingest(
    store,
    objects,
    [defaultPipeline('abr-default')],
    new TemplateRegistry(null),
    silentLog,
  );
  const intake = new EventIntake(ingest, objects, store, silentLog);
  const put = (key: string, body: string) => objects.put('source', key, Readable.from([body]));
  const s3 = (records: Parameters<typeof s3Record>[0][]): Notification =>
    parseS3Notification({ Records: records.map(s3Record) });
  const jobs = async () => store.list({ limit: 1000 });
  return { store, objects, intake, put, s3, jobs };
}

for (const kind of Object.keys(STORES)) {
  test(`${kind}: one notification delivered 5 times makes one job; the summary counts the duplicates`, async (t) => {
    const f = await fixture(t, kind);
    const v1 = await f.put('inputs/a b.mp4', 'version one');
    const n = f.s3([{ key: 'inputs/a+b.mp4', etag: `"${v1.etag}"`, sequencer: '0A' }]);
    const first = await f.intake.take(n, 'test');
    assert.deepEqual([first.created, first.duplicates, first.stale], [1, 0, 0]);
    for (let i = 0; i < 4; i++) {
      const again = await f.intake.take(n, 'test');
      assert.deepEqual([again.created, again.duplicates, again.stale], [0, 1, 0]);
      assert.deepEqual(again.jobs, first.jobs);
    }
    assert.equal((await f.jobs()).length, 1);
  });

  test(`${kind}: v2 then v1 (out of order) makes one job, for v2; v1 is stale by sequencer and by etag`, async (t) => {
    const f = await fixture(t, kind);
    const v1 = await f.put('inputs/k.mp4', 'version one');
    const v2 = await f.put('inputs/k.mp4', 'version two, longer');
    assert.notEqual(v1.etag, v2.etag);
    const e1 = f.s3([{ key: 'inputs/k.mp4', etag: v1.etag, sequencer: '0055AED6DCD90281E5' }]);
    const e2 = f.s3([{ key: 'inputs/k.mp4', etag: v2.etag, sequencer: '0055AED6DCD90281E6' }]);
    assert.equal((await f.intake.take(e2, 'test')).created, 1);
    const late = await f.intake.take(e1, 'test');
    assert.deepEqual([late.created, late.stale], [0, 1]);
    // Without sequencers (OCI, CloudEvents) the etag decides: v1 is not the current version.
    const noSeq = f.s3([{ key: 'inputs/k.mp4', etag: v1.etag }]);
    delete (noSeq.references[0] as { sequencer?: string }).sequencer;
    assert.equal((await f.intake.take(noSeq, 'test')).stale, 1);
    const all = await f.jobs();
    assert.equal(all.length, 1);
    assert.equal(all[0]?.input.etag, v2.etag);
  });

  test(`${kind}: 8 concurrent deliveries of one new event make one job`, async (t) => {
    const f = await fixture(t, kind);
    const v = await f.put('inputs/race.mp4', 'racing');
    const n = f.s3([{ key: 'inputs/race.mp4', etag: v.etag, sequencer: '10' }]);
    const results = await Promise.all(Array.from({ length: 8 }, () => f.intake.take(n, 'test')));
    assert.equal(
      results.reduce((a, r) => a + r.created, 0),
      1,
    );
    assert.equal(
      results.reduce((a, r) => a + r.duplicates, 0),
      7,
    );
    assert.equal((await f.jobs()).length, 1);
  });

  test(`${kind}: hostile keys are refused with a code; a reference without etag takes the current version; a deleted object is stale`, async (t) => {
    const f = await fixture(t, kind);
    const v = await f.put('inputs/ok.mp4', 'fine');
    const n = f.s3([
      { key: '..%2Fx.mp4' },
      { key: 'inputs/..%2F..%2Fetc%2Fpasswd.mp4' },
      { key: '%2Fabs.mp4' },
      { key: 'inputs/ok.mp4' },
      { key: 'inputs/gone.mp4', etag: 'e' },
      { key: 'notes.txt' },
    ]);
    for (const r of n.references) if (r.key === 'inputs/ok.mp4') delete r.etag;
    const s = await f.intake.take(n, 'test');
    assert.deepEqual(
      s.refused.map((r) => [r.key, r.code]),
      [
        ['../x.mp4', 'INVALID_OBJECT_KEY'],
        ['inputs/../../etc/passwd.mp4', 'INVALID_OBJECT_KEY'],
        ['/abs.mp4', 'INVALID_OBJECT_KEY'],
      ],
    );
    assert.deepEqual([s.created, s.stale, s.ignored], [1, 1, 1]);
    const all = await f.jobs();
    assert.deepEqual(
      all.map((j) => [j.input.key, j.input.etag]),
      [['inputs/ok.mp4', v.etag]],
    );
  });
}
