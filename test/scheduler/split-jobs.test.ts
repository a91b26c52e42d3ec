// The control plane's side of chunked jobs on a real SQLite store and a real local object store
// (split-jobs.ts, worker-split-routes.ts restitch): the stitch is made once every chunk and the audio are
// COMPLETE, the job completes from the stitch's outputs and its parts area goes; a failed part fails the
// job; parts of a canceled job are canceled; a stitch that finds a part broken sends it back (its receipt
// removed, redo) and waits, twice at most.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { restitch } from '../../src/api/worker-split-routes.ts';
import type { Job } from '../../src/jobs/job.ts';
import { partDraft, partName, partsOfSplit } from '../../src/jobs/job-parts.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { advanceSplitJobs, removePartsAreas } from '../../src/scheduler/split-jobs.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { partKey, receiptOf } from '../../src/storage/parts-area.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { type ChunkRange, planChunks } from '../../src/templates/chunk-plan.ts';
import { silentLog, tempDir } from '../helpers.ts';

const CHUNKS = planChunks({
  durationSeconds: 60,
  sourceStartSeconds: 0,
  frameRate: 25,
  segmentSeconds: 4,
  chunkSeconds: 20,
  minInputSeconds: 30,
}) as ChunkRange[];
const MEDIA = {
  container: 'mov',
  durationSeconds: 60,
  video: null,
  audio: null,
  streamCount: 1,
} as unknown as MediaInfo;

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'sluice-split-');
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  t.after(() => store.close());
  const objects = new LocalObjectStore(dir);
  const template = getBuiltinTemplate('abr-default');
  const { job } = await store.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'long.mp4' },
      templateName: template.name,
      template,
      destination: { bucket: 'destination', prefix: 'long.mp4' },
      userMetadata: {},
      idempotencyKey: 'long',
    },
    new Date(),
  );
  await store.claimNext('tok-parent', 60_000, new Date());
  const parent = await store.transition(
    job.id,
    { type: 'split', leaseToken: 'tok-parent', chunks: CHUNKS, inputMedia: MEDIA },
    new Date(),
  );
  const parts: Job[] = [];
  for (const part of partsOfSplit(CHUNKS))
    parts.push((await store.create(partDraft(parent, part), new Date())).job);
  /** Runs a queued part to COMPLETE as a worker would, its receipt in the parts area. */
  const finish = async (outputs: Job['outputs'] = []) => {
    const token = `tok-${Math.random()}`;
    const claimed = (await store.claimNext(token, 60_000, new Date())) as Job;
    if (claimed.part?.kind !== 'stitch') {
      const file = path.join(dir, 'receipt.json');
      await fs.writeFile(file, '{}');
      await objects.upload(
        'destination',
        partKey(parent.id, receiptOf(partName(claimed.part as never))),
        file,
      );
    }
    await store.transition(claimed.id, { type: 'complete', leaseToken: token, outputs }, new Date());
    return { claimed, token };
  };
  const advance = () => advanceSplitJobs(store, objects, silentLog, new Date());
  return { dir, store, objects, parent, parts, finish, advance };
}

test('split jobs: stitch once all are encoded, complete from the stitch, parts area removed', async (t) => {
  const { dir, store, parent, parts, finish, advance } = await setup(t);
  for (let i = 0; i < parts.length - 1; i++) await finish();
  await advance();
  assert.equal((await store.listParts(parent.id)).length, parts.length, 'no stitch while one part runs');
  const moving = (await store.get(parent.id)) as Job;
  assert.equal(moving.phase, 'TRANSCODING');
  assert.ok(moving.progress.percent > 50 && moving.progress.percent < 100, String(moving.progress.percent));
  await finish();
  await advance();
  const stitch = (await store.listParts(parent.id)).find((p) => p.part?.kind === 'stitch');
  assert.equal(stitch?.status, 'SUBMITTED');
  assert.deepEqual(stitch?.part, { kind: 'stitch', chunks: CHUNKS });
  await advance(); // twice: no second stitch
  assert.equal((await store.listParts(parent.id)).filter((p) => p.part?.kind === 'stitch').length, 1);
  const outputs = [{ type: 'hls', bucket: 'destination', key: 'long.mp4/master.m3u8' }];
  await finish(outputs);
  assert.ok(await fs.stat(path.join(dir, 'buckets', 'destination', '.parts', parent.id)).catch(() => null));
  await advance();
  const done = (await store.get(parent.id)) as Job;
  assert.equal(done.status, 'COMPLETE');
  assert.deepEqual(done.outputs, outputs);
  assert.equal(
    await fs.stat(path.join(dir, 'buckets', 'destination', '.parts', parent.id)).catch(() => null),
    null,
  );
  const types = (await store.events(parent.id)).map((e) => e.type);
  assert.deepEqual(types.slice(-1), ['job:complete']);
  assert.ok(types.includes('job:split'));
});

test('split jobs: a part in ERROR fails the job with its code; the other parts are canceled', async (t) => {
  const { dir, store, objects, parent, advance } = await setup(t);
  const token = 'tok-c0';
  const c0 = (await store.claimNext(token, 60_000, new Date())) as Job;
  await store.transition(
    c0.id,
    {
      type: 'fail',
      leaseToken: token,
      error: { code: 'INPUT_UNREADABLE', message: 'bad' },
      retryable: false,
      retryDelayMs: 0,
    },
    new Date(),
  );
  await advance();
  const failed = (await store.get(parent.id)) as Job;
  assert.equal(failed.status, 'ERROR');
  assert.deepEqual(failed.error, { code: 'INPUT_UNREADABLE', message: 'chunk 1 of 3 failed: bad' });
  const { canceled } = await advance();
  assert.equal(canceled.length, 3, 'the chunks and the audio still queued');
  assert.ok((await store.listParts(parent.id)).slice(1).every((p) => p.status === 'CANCELED'));
  // Its parts area stays for a retry, and goes with the job at the retention purge.
  const area = path.join(dir, 'buckets', 'destination', '.parts', parent.id);
  await fs.mkdir(area, { recursive: true });
  await fs.writeFile(path.join(area, 'kept'), 'x');
  await removePartsAreas(store, objects, new Date(Date.now() - 60_000), silentLog);
  assert.ok(await fs.stat(area).catch(() => null), 'not yet past retention');
  await removePartsAreas(store, objects, new Date(Date.now() + 60_000), silentLog);
  assert.equal(await fs.stat(path.join(area, 'kept')).catch(() => null), null);
});

test('split jobs: a stitch finding chunk 2 broken sends it back and waits; the third time it fails as usual', async (t) => {
  const { store, objects, parent, parts, finish, advance } = await setup(t);
  for (let i = 0; i < parts.length; i++) await finish();
  for (let round = 1; round <= 3; round++) {
    await advance();
    const token = `tok-stitch-${round}`;
    const stitch = (await store.claimNext(token, 60_000, new Date())) as Job;
    assert.equal(stitch.part?.kind, 'stitch', `round ${round}: the stitch runs`);
    const handled = await restitch(
      store,
      objects,
      stitch,
      token,
      { chunks: [1], audio: false },
      'CHUNK_DISCONTINUITY',
    );
    if (round === 3) {
      assert.equal(handled, false, 'the third time is a failure like any');
      break;
    }
    assert.equal(handled, true);
    const now = await store.listParts(parent.id);
    assert.equal(now[1]?.status, 'SUBMITTED', 'chunk 2 runs again');
    assert.ok(
      now.filter((p) => p.part?.kind !== 'stitch' && p !== now[1]).every((p) => p.status === 'COMPLETE'),
    );
    assert.equal(now.find((p) => p.part?.kind === 'stitch')?.status, 'CANCELED');
    assert.equal(await objects.stat('destination', partKey(parent.id, receiptOf('chunk-0001'))), null);
    assert.ok(await objects.stat('destination', partKey(parent.id, receiptOf('chunk-0000'))));
    await advance();
    assert.equal((await store.get(parent.id))?.status, 'PROGRESSING', 'the job waits for chunk 2');
    await finish();
  }
});
