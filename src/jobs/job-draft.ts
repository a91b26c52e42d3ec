// A new job as both stores insert it: SUBMITTED, runnable now, no attempt yet.

import { inputIdOf } from './input-group.ts';
import type { Job, NewJob } from './job.ts';
import { newJobId } from './job-id.ts';

export function newJobDraft(input: NewJob, now: Date): Job {
  const at = now.toISOString();
  return {
    id: newJobId(now.getTime()),
    status: 'SUBMITTED',
    phase: null,
    progress: { percent: 0, fps: null, speed: null, etaSeconds: null },
    attempts: 0,
    maxAttempts: input.maxAttempts ?? input.template.maxAttempts,
    runAfter: at,
    leaseHash: null,
    leaseUntil: null,
    createdAt: at,
    startedAt: null,
    finishedAt: null,
    updatedAt: at,
    pipeline: input.pipeline,
    input: input.input,
    inputMedia: input.inputMedia ?? null,
    templateName: input.templateName,
    template: input.template,
    destination: input.destination,
    outputs: [],
    error: null,
    stderrTail: null,
    userMetadata: input.userMetadata,
    idempotencyKey: input.idempotencyKey,
    versionGroup: input.versionGroup ?? input.idempotencyKey,
    outputsReplacedBy: null,
    pool: null,
    preemptions: 0,
    offeredAt: at,
    priority: input.priority ?? 0,
    retryBackoff: input.retryBackoff ?? null,
    inputId: inputIdOf(input.input),
    parentId: input.parentId ?? null,
    part: input.part ?? null,
    split: null,
  };
}
