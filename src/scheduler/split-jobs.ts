// The control plane's side of chunked jobs (job-parts.ts decides, this applies): on every scheduler tick
// the leader looks at each split job waiting on its parts and makes the stitch when every chunk and the
// audio are done, completes the job from the stitch's outputs, fails it when a part failed, and moves its
// phase and progress; parts left queued or running under a job that ended (canceled, superseded, failed)
// are canceled. Each change is a fenced transition, so two control planes doing it at once are safe.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import { outputSetOf } from '../jobs/job.ts';
import { nextPartsStep, partDraft, stitchPart } from '../jobs/job-parts.ts';
import type { JobStore } from '../jobs/job-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { partsPrefix } from '../storage/parts-area.ts';

const BATCH = 500;

function ended(err: unknown): boolean {
  return err instanceof SluiceError && ['INVALID_TRANSITION', 'VERSION_CONFLICT'].includes(err.code);
}

export async function advanceSplitJobs(
  store: JobStore,
  objects: ObjectStore | null,
  log: Logger,
  now: Date,
): Promise<{ changed: boolean; canceled: string[] }> {
  let changed = false;
  const canceled: string[] = [];
  for (const part of await store.listOrphanParts(BATCH)) {
    await store
      .transition(part.id, { type: 'cancel', reason: `its job ${part.parentId} is no longer running` }, now)
      .then(
        () => {
          changed = true;
          canceled.push(part.id);
        },
        (err) => {
          if (!ended(err)) throw err;
        },
      );
  }
  for (const parent of await store.listSplitRunning(BATCH)) {
    const parts = await store.listParts(parent.id);
    for (const step of nextPartsStep(parent, parts, now)) {
      try {
        switch (step.type) {
          case 'fail':
            await store.transition(parent.id, { type: 'parts-failed', error: step.error }, now);
            log.warn(
              { jobId: parent.id, code: step.error.code, err: step.error.message },
              'chunked job failed',
            );
            changed = true;
            break;
          case 'resubmit':
            await store.transition(step.id, { type: 'retry', reason: 'its job is still running' }, now);
            changed = true;
            break;
          case 'stitch':
            if (step.retry) {
              await store.transition(step.retry, { type: 'retry', reason: 'every part is encoded' }, now);
            } else {
              await store.create(partDraft(parent, stitchPart(parent.split?.chunks ?? [])), now);
            }
            log.info({ jobId: parent.id }, 'every part encoded; stitch queued');
            changed = true;
            break;
          case 'complete':
            await store.transition(parent.id, { type: 'parts-complete', outputs: step.outputs }, now);
            await store.replaceOutputs(outputSetOf(parent.destination), parent.id, now);
            if (objects) {
              await objects
                .removePrefix(parent.destination.bucket, partsPrefix(parent.id))
                .catch((err) =>
                  log.warn({ jobId: parent.id, err: (err as Error).message }, 'parts area not removed'),
                );
            }
            log.info({ jobId: parent.id, outputs: step.outputs.length }, 'chunked job complete');
            changed = true;
            break;
          case 'progress':
            if (
              step.phase !== parent.phase ||
              step.progress.percent !== parent.progress.percent ||
              step.progress.etaSeconds !== parent.progress.etaSeconds
            ) {
              await store.transition(
                parent.id,
                { type: 'parts-progress', phase: step.phase, progress: step.progress },
                now,
              );
            }
            break;
        }
      } catch (err) {
        if (!ended(err)) throw err;
      }
    }
  }
  return { changed, canceled };
}

/** Before the retention purge: the parts areas of split jobs that ended before `before`. */
export async function removePartsAreas(
  store: JobStore,
  objects: ObjectStore | null,
  before: Date,
  log: Logger,
): Promise<void> {
  if (!objects) return;
  for (const job of await store.listSplitFinished(before, 10_000)) {
    await objects
      .removePrefix(job.destination.bucket, partsPrefix(job.id))
      .catch((err) => log.warn({ jobId: job.id, err: (err as Error).message }, 'parts area not removed'));
  }
}
