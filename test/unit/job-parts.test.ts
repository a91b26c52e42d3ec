// What the control plane does next for a chunked job (job-parts.ts): stitch once every chunk and the
// audio are done, complete from the stitch, fail from a failed part, put a lone canceled part back, and
// the parent's phase and progress from its parts'.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job, JobPart } from '../../src/jobs/job.ts';
import { newJobDraft } from '../../src/jobs/job-draft.ts';
import {
  aggregateProgress,
  nextPartsStep,
  partDraft,
  partName,
  partsOfSplit,
  stitchPart,
} from '../../src/jobs/job-parts.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { type ChunkRange, planChunks } from '../../src/templates/chunk-plan.ts';

const T0 = new Date('2024-05-01T12:00:00.000Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);
const CHUNKS = planChunks({
  durationSeconds: 60,
  sourceStartSeconds: 0,
  frameRate: 25,
  segmentSeconds: 4,
  chunkSeconds: 20,
  minInputSeconds: 30,
}) as ChunkRange[];

function parent(): Job {
  const draft = newJobDraft(
    {
      pipeline: 'default',
      input: { bucket: 'in', key: 'long.mp4' },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'out', prefix: 'long' },
      userMetadata: {},
      idempotencyKey: 'k',
    },
    T0,
  );
  return {
    ...draft,
    status: 'PROGRESSING',
    attempts: 1,
    split: { chunks: CHUNKS, attempt: 1, at: T0.toISOString() },
  };
}

function partJob(p: Job, part: JobPart, over: Partial<Job> = {}): Job {
  return { ...newJobDraft(partDraft(p, part), T0), ...over };
}

test('parts of a split: every chunk and the audio, named for their folders; keys are the parent’s own', () => {
  const parts = partsOfSplit(CHUNKS);
  assert.deepEqual(parts.map(partName), ['chunk-0000', 'chunk-0001', 'chunk-0002', 'audio']);
  const p = parent();
  const keys = new Set(parts.map((part) => partDraft(p, part).idempotencyKey));
  assert.equal(keys.size, parts.length);
  assert.ok([...keys].every((k) => k.startsWith(`${p.idempotencyKey}#${p.id}/`)));
});

test('nothing done yet: only progress; all encoded: the stitch is made; stitch done: complete with its outputs', () => {
  const p = parent();
  const parts = partsOfSplit(CHUNKS).map((part) => partJob(p, part));
  assert.deepEqual(
    nextPartsStep(p, parts, later(10)).map((s) => s.type),
    ['progress'],
  );
  const done = parts.map((j) => ({ ...j, status: 'COMPLETE' as const }));
  assert.deepEqual(
    nextPartsStep(p, done, later(20)).map((s) => s.type),
    ['stitch', 'progress'],
  );
  const outputs = [{ type: 'hls', bucket: 'out', key: 'long/master.m3u8' }];
  const stitch = partJob(p, stitchPart(CHUNKS), { status: 'COMPLETE', outputs });
  assert.deepEqual(nextPartsStep(p, [...done, stitch], later(30)), [{ type: 'complete', outputs }]);
  // One chunk short (a part not made yet, say): no stitch.
  assert.deepEqual(
    nextPartsStep(p, done.slice(1), later(20)).map((s) => s.type),
    ['progress'],
  );
});

test('a failed part fails the job with its code and which part; a lone canceled part is put back', () => {
  const p = parent();
  const parts = partsOfSplit(CHUNKS).map((part) => partJob(p, part));
  const failed = [...parts];
  failed[2] = {
    ...(parts[2] as Job),
    status: 'ERROR',
    error: { code: 'INPUT_UNREADABLE', message: 'bad frame' },
  };
  const [step] = nextPartsStep(p, failed, later(5));
  assert.deepEqual(step, {
    type: 'fail',
    error: { code: 'INPUT_UNREADABLE', message: 'chunk 3 of 3 failed: bad frame' },
  });
  const canceled = [...parts];
  canceled[0] = { ...(parts[0] as Job), status: 'CANCELED' };
  assert.deepEqual(nextPartsStep(p, canceled, later(5))[0], { type: 'resubmit', id: parts[0]?.id });
  // A stitch that failed before this split (the job was retried) runs again once all are encoded.
  const done = parts.map((j) => ({ ...j, status: 'COMPLETE' as const }));
  const oldStitch = partJob(p, stitchPart(CHUNKS), {
    status: 'ERROR',
    finishedAt: later(-60).toISOString(),
    error: { code: 'INTERNAL', message: 'x' },
  });
  assert.deepEqual(nextPartsStep(p, [...done, oldStitch], later(5))[0], {
    type: 'stitch',
    retry: oldStitch.id,
  });
  const newStitch = { ...oldStitch, finishedAt: later(5).toISOString() };
  assert.equal(nextPartsStep(p, [...done, newStitch], later(6))[0]?.type, 'fail');
  // A parent not waiting on its parts (ended, or not split) has nothing to do here.
  assert.deepEqual(nextPartsStep({ ...p, status: 'CANCELED' }, failed, later(5)), []);
});

test('aggregate progress: weighted by chunk length, fps and speed summed over running parts, ETA from the rate', () => {
  const p = parent();
  const parts = partsOfSplit(CHUNKS).map((part) => partJob(p, part));
  const running = (j: Job, percent: number, fps: number, speed: number): Job => ({
    ...j,
    status: 'PROGRESSING',
    progress: { percent, fps, speed, etaSeconds: null },
  });
  const now = [
    { ...(parts[0] as Job), status: 'COMPLETE' as const },
    running(parts[1] as Job, 50, 30, 1.2),
    running(parts[2] as Job, 50, 20, 0.8),
    { ...(parts[3] as Job), status: 'COMPLETE' as const },
  ];
  const { phase, progress } = aggregateProgress(p, now, later(30));
  assert.equal(phase, 'TRANSCODING');
  // Chunks are 20 s each (1/3 each of 0.9 weight... by their shares), audio 0.05 done, stitch 0.05 not.
  const expected = ((1 / 3) * 100 + (1 / 3) * 50 + (1 / 3) * 50 + 0.05 * 100) / 1.1;
  assert.equal(progress.percent, Math.round(expected * 10) / 10);
  assert.equal(progress.fps, 50);
  assert.equal(progress.speed, 2);
  assert.equal(progress.etaSeconds, Math.round((30 * (100 - progress.percent)) / progress.percent));
  const stitching = aggregateProgress(
    p,
    [...now, partJob(p, stitchPart(CHUNKS), { status: 'PROGRESSING', phase: 'STITCHING' })],
    later(40),
  );
  assert.equal(stitching.phase, 'STITCHING');
});
