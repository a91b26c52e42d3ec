// The Worker API of chunked jobs (issue 13), every call with the attempt's lease token:
// - POST /v1/worker/jobs/:id/split {chunks, inputMedia}: the attempt probed the input and found it long
//   enough to encode in chunks. Its parts are made (every chunk and the audio; the stitch comes later,
//   split-jobs.ts) and the job waits on them, PROGRESSING with no lease of its own. A job split before (a
//   retry) keeps its parts: one COMPLETE with its receipt in the parts area is not encoded again, one that
//   failed or was canceled runs again, one whose receipt is gone is run again (redo).
// - PUT /v1/worker/jobs/:id/parts/<part>/<file>: a part's attempt writes a file of its own part folder.
// - GET /v1/worker/jobs/:id/parts/<part>/<file>: any part's attempt reads its job's parts area (a chunk
//   its own receipt, to resume; the stitch every part). 404 OBJECT_NOT_FOUND when absent.
// The bytes pass through the control plane (no presigned URLs for parts yet).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { chunkPartName, partDraft, partName, partsOfSplit } from '../jobs/job-parts.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { requireLease } from '../jobs/state-machine.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { partKey, receiptOf } from '../storage/parts-area.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import { parseBody } from './validate.ts';
import { tokenOf } from './worker-routes.ts';

export const PARTS_ROUTE = '/v1/worker/jobs/:id/parts/*';

const Range = z.strictObject({
  index: z.number().int().min(0),
  firstFrame: z.number().int().min(0),
  endFrame: z.number().int().min(1).nullable(),
  firstSegment: z.number().int().min(0),
  segments: z.number().int().min(1).nullable(),
  startSeconds: z.number().min(0),
  endSeconds: z.number().positive(),
  encodeFromSeconds: z.number().min(0),
  seekSeconds: z.number(),
});

export const Split = z.strictObject({
  chunks: z.array(Range).min(2).max(10_000),
  inputMedia: z.record(z.string(), z.unknown()),
});

export interface SplitRouteOptions {
  store: JobStore;
  objects: ObjectStore;
  /** Parts were made: wake the scheduler and the waiting pull workers. */
  onWork: () => void;
}

/** The chunks must follow each other: indexes in order, each starting where the one before ended. */
function checkChunks(chunks: ChunkRange[]): void {
  chunks.forEach((c, i) => {
    const before = chunks[i - 1];
    const joined = !before || (before.endFrame === c.firstFrame && before.segments !== null);
    if (c.index !== i || !joined || (c.endFrame === null) !== (i === chunks.length - 1)) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        `chunk ${i} does not follow chunk ${i - 1}: a split's chunks are numbered from 0 and meet frame to frame`,
      );
    }
  });
}

/** How many times one job's stitch may send parts back to be encoded before it fails as any part would. */
export const MAX_RESTITCHES = 2;

/**
 * The stitch found parts without a valid receipt or not joining up (CHUNK_MISSING, CHUNK_DISCONTINUITY):
 * their receipts are removed and they run again (redo), and the stitch is canceled, to be run again once
 * every part is COMPLETE (split-jobs.ts). A third time fails the stitch, and so the job, as usual: parts
 * that never join (two ffmpeg builds in one pool) are not encoded forever.
 */
export async function restitch(
  store: JobStore,
  objects: ObjectStore,
  stitch: Job,
  token: string,
  broken: { chunks: number[]; audio: boolean },
  code: string,
): Promise<boolean> {
  if (!stitch.parentId || stitch.part?.kind !== 'stitch') return false;
  requireLease(stitch, token, 'fail');
  const earlier = (await store.events(stitch.id)).filter(
    (e) => e.type === 'job:canceled' && String(e.data.reason ?? '').startsWith('restitch:'),
  ).length;
  if (earlier >= MAX_RESTITCHES) return false;
  const now = new Date();
  const names = new Set([...broken.chunks.map(chunkPartName), ...(broken.audio ? ['audio'] : [])]);
  for (const part of await store.listParts(stitch.parentId)) {
    if (!part.part || !names.has(partName(part.part))) continue;
    await objects.remove(stitch.destination.bucket, partKey(stitch.parentId, receiptOf(partName(part.part))));
    if (part.status === 'COMPLETE') {
      await store.transition(part.id, { type: 'redo', reason: `the stitch found it ${code}` }, now);
    }
  }
  await store.transition(
    stitch.id,
    { type: 'cancel', reason: `restitch: ${code} in ${[...names].join(', ')}; they are encoded again` },
    now,
  );
  return true;
}

export function registerSplitRoutes(app: FastifyInstance, o: SplitRouteOptions): void {
  const { store, objects } = o;
  type P = { Params: { id: string } };

  const attemptOf = async (req: FastifyRequest<{ Params: { id: string } }>, what: string): Promise<Job> => {
    const job = await store.get(req.params.id);
    if (!job) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${req.params.id}`);
    requireLease(job, tokenOf(req), what);
    return job;
  };

  app.post<P>('/v1/worker/jobs/:id/split', async (req) => {
    const body = parseBody(Split, req.body);
    const job = await attemptOf(req, 'split');
    if (job.parentId !== null) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        `job ${job.id} is a part of job ${job.parentId}; a part is not split again`,
      );
    }
    if (!job.template.chunking.enabled) {
      throw new SluiceError(
        'VALIDATION_FAILED',
        `job ${job.id}'s template does not encode in chunks (chunking.enabled is false); it is not split`,
      );
    }
    const chunks = body.chunks as ChunkRange[];
    checkChunks(chunks);
    const now = new Date();
    const parent = { ...job, inputMedia: body.inputMedia as never };
    let reused = 0;
    for (const part of partsOfSplit(chunks)) {
      const { job: child, created } = await store.create(partDraft(parent, part), now);
      if (created) continue;
      if (child.status === 'ERROR' || child.status === 'CANCELED') {
        await store.transition(child.id, { type: 'retry', reason: `job ${job.id} was split again` }, now);
      } else if (child.status === 'COMPLETE') {
        const receipt = await objects.stat(
          job.destination.bucket,
          partKey(job.id, receiptOf(partName(part))),
        );
        if (receipt) reused++;
        else await store.transition(child.id, { type: 'redo', reason: 'its receipt is gone' }, now);
      }
    }
    const split = await store.transition(
      job.id,
      { type: 'split', leaseToken: tokenOf(req), chunks, inputMedia: body.inputMedia as never },
      now,
    );
    req.log.info({ jobId: job.id, chunks: chunks.length, reused }, 'job split into parts');
    o.onWork();
    return { status: split.status, parts: chunks.length + 1, reused };
  });

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.put<{ Params: { id: string; '*': string } }>(PARTS_ROUTE, async (req, reply) => {
      const job = await attemptOf(req, 'part upload');
      if (!job.parentId || !job.part || job.part.kind === 'stitch') {
        throw new SluiceError(
          'VALIDATION_FAILED',
          `job ${job.id} is not a chunk or audio part; it writes no part files`,
        );
      }
      const rel = req.params['*'];
      const own = `${partName(job.part)}/`;
      if (!rel.startsWith(own)) {
        throw new SluiceError(
          'OUTPUT_OUTSIDE_DESTINATION',
          `part file ${JSON.stringify(rel)} is refused: this part writes only under ${own}`,
          { key: rel },
        );
      }
      const declared = req.headers['content-length'];
      const info = await objects.put(job.destination.bucket, partKey(job.parentId, rel), req.raw, {
        ...(declared !== undefined ? { expectedBytes: Number(declared) } : {}),
      });
      return reply.code(201).send({ size: info.size });
    });
  });

  app.get<{ Params: { id: string; '*': string } }>(PARTS_ROUTE, async (req, reply) => {
    const job = await attemptOf(req, 'part read');
    if (!job.parentId)
      throw new SluiceError('VALIDATION_FAILED', `job ${job.id} is not a part of a chunked job`);
    const key = partKey(job.parentId, req.params['*']);
    const info = await objects.stat(job.destination.bucket, key);
    if (!info)
      throw new SluiceError('OBJECT_NOT_FOUND', `part file ${req.params['*']} is not in the parts area`);
    const { stream } = await objects.openRead(job.destination.bucket, key);
    reply.header('content-type', 'application/octet-stream').header('content-length', String(info.size));
    return reply.send(stream);
  });
}
