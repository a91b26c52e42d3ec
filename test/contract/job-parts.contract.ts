// The JobStore contract of chunked jobs (issue 13): a split parent and its parts (child jobs). Parts are
// listed under their parent and left out of the job list and the counts; a split parent waiting on its
// parts holds no lease, is not an attempt against capacity nor a lapsed lease, and is found by
// listSplitRunning; parts of a parent that ended are found by listOrphanParts. Registered next to
// jobStoreContract by each store's test file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import { partDraft, partsOfSplit } from '../../src/jobs/job-parts.ts';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { type ChunkRange, planChunks } from '../../src/templates/chunk-plan.ts';
import type { StoreFactory } from './job-store.contract.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

const MEDIA = {
  container: 'mov',
  durationSeconds: 60,
  video: null,
  audio: null,
  streamCount: 1,
} as unknown as MediaInfo;

function newJob(key: string): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 10, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: `default/${key}` },
    userMetadata: {},
    idempotencyKey: JSON.stringify(['default', 'source', key]),
  };
}

const CHUNKS = planChunks({
  durationSeconds: 60,
  sourceStartSeconds: 0,
  frameRate: 25,
  segmentSeconds: 4,
  chunkSeconds: 20,
  minInputSeconds: 30,
}) as ChunkRange[];

export function jobPartsContract(name: string, factory: StoreFactory): void {
  test(`${name}: a split parent and its parts: listed under it, out of the list and counts, no lease, no capacity`, async (t) => {
    const { store } = await factory.open(t);
    const single = (await store.create(newJob('single.mp4'), at(0))).job;
    const parentJob = (await store.create(newJob('long.mp4'), at(1))).job;
    assert.equal((await store.claimNext('tok-s', 60_000, at(2)))?.id, single.id);
    assert.equal((await store.claimNext('tok-p', 60_000, at(2)))?.id, parentJob.id);
    assert.equal(await store.countRunningAttempts(), 2);
    const split = await store.transition(
      parentJob.id,
      { type: 'split', leaseToken: 'tok-p', chunks: CHUNKS, inputMedia: MEDIA },
      at(3),
    );
    assert.equal(split.status, 'PROGRESSING');
    assert.equal(split.leaseHash, null);
    assert.deepEqual(split.split?.chunks, CHUNKS);
    const parts = [];
    for (const part of partsOfSplit(CHUNKS)) {
      parts.push((await store.create(partDraft(split, part), at(4))).job);
    }
    assert.equal(parts.length, CHUNKS.length + 1);
    // Made again (a split after a retry): the same parts come back.
    const again = await store.create(partDraft(split, partsOfSplit(CHUNKS)[0] as never), at(5));
    assert.equal(again.created, false);
    assert.equal(again.job.id, parts[0]?.id);

    const listed = await store.listParts(parentJob.id);
    assert.deepEqual(
      listed.map((j) => j.id),
      parts.map((j) => j.id),
    );
    assert.deepEqual(listed[0]?.part, { kind: 'chunk', index: 0, of: CHUNKS.length, range: CHUNKS[0] });
    assert.equal(listed[0]?.parentId, parentJob.id);
    assert.deepEqual(listed[0]?.inputMedia, MEDIA);
    assert.deepEqual((await store.list({})).map((j) => j.id).sort(), [single.id, parentJob.id].sort());
    assert.equal((await store.list({ withParts: true })).length, 2 + parts.length);
    assert.equal(await store.countByStatus('SUBMITTED'), 0, 'parts are not counted as jobs');
    assert.equal(await store.countByStatus('PROGRESSING'), 2);
    const counts = await store.countByStatusAndPipeline();
    assert.deepEqual(counts, [{ status: 'PROGRESSING', pipeline: 'default', jobs: 2 }]);
    // The parent is no attempt: capacity counts the single job only, its lease never lapses.
    assert.equal(await store.countRunningAttempts(), 1);
    assert.deepEqual(
      (await store.expiredLeases(at(3600))).map((j) => j.id),
      [single.id],
    );
    assert.deepEqual(
      (await store.listSplitRunning(10)).map((j) => j.id),
      [parentJob.id],
    );
    const active = await store.countActive(at(5));
    assert.deepEqual(
      active.map((a) => [a.status, a.jobs]).sort(),
      [
        ['PROGRESSING', 1],
        ['SUBMITTED', parts.length],
      ].sort(),
    );
    // Parts are claimed as any job; the parent is not a candidate.
    const claimed = await store.claimNext('tok-c0', 60_000, at(6));
    assert.equal(claimed?.id, parts[0]?.id);
    assert.deepEqual(await store.listOrphanParts(10), []);

    // The parent ends (canceled): its parts still queued or running are orphans, finished ones are not.
    await store.transition(
      parts[0]?.id as string,
      { type: 'complete', leaseToken: 'tok-c0', outputs: [] },
      at(7),
    );
    await store.transition(parentJob.id, { type: 'cancel', reason: 'test' }, at(8));
    const orphans = await store.listOrphanParts(100);
    assert.deepEqual(
      orphans.map((j) => j.id).sort(),
      parts
        .slice(1)
        .map((j) => j.id)
        .sort(),
    );
    assert.deepEqual(await store.listSplitRunning(10), []);
  });

  test(`${name}: replaceOutputs() leaves parts alone; redo puts a COMPLETE part back, not a job`, async (t) => {
    const { store } = await factory.open(t);
    const parentJob = (await store.create(newJob('long.mp4'), at(0))).job;
    await store.claimNext('tok-p', 60_000, at(1));
    const split = await store.transition(
      parentJob.id,
      { type: 'split', leaseToken: 'tok-p', chunks: CHUNKS, inputMedia: MEDIA },
      at(2),
    );
    const part = (await store.create(partDraft(split, partsOfSplit(CHUNKS)[0] as never), at(3))).job;
    await store.claimNext('tok-c', 60_000, at(4));
    await store.transition(part.id, { type: 'complete', leaseToken: 'tok-c', outputs: [] }, at(5));
    const other = (await store.create(newJob('other.mp4'), at(6))).job;
    assert.deepEqual(await store.replaceOutputs('output/default/long.mp4', other.id, at(7)), []);
    const redone = await store.transition(part.id, { type: 'redo', reason: 'receipt gone' }, at(8));
    assert.equal(redone.status, 'SUBMITTED');
    assert.equal(redone.attempts, 0);
    await assert.rejects(
      store.transition(other.id, { type: 'redo', reason: 'x' }, at(9)),
      (err: Error & { code?: string }) => err.code === 'INVALID_TRANSITION',
    );
  });
}
