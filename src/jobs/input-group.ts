// Inputs, pure: the jobs one object version made (one per matching pipeline: the fan-out) are grouped
// under an input id derived from the version alone (bucket, key, etag), so any process computes the
// same id without a lookup. The input's status aggregates its jobs' statuses.
import { createHash } from 'node:crypto';
import type { JobStatus, ObjectRef } from './job.ts';

export const INPUT_ID = /^in_[0-9a-f]{16}$/;

/**
 * `in_` + the first 16 hex digits of SHA-256 over `bucket \n key \n etag` (keys and bucket names never
 * hold a newline). The stores compute the same in SQL for rows made before the column existed.
 */
export function inputIdOf(ref: Pick<ObjectRef, 'bucket' | 'key' | 'etag'>): string {
  const digest = createHash('sha256')
    .update(`${ref.bucket}\n${ref.key}\n${ref.etag ?? ''}`, 'utf8')
    .digest('hex');
  return `in_${digest.slice(0, 16)}`;
}

/**
 * The input's status from its jobs':
 * - SUBMITTED while every job waits (none has started);
 * - PROGRESSING while any job runs, or some ended and others still wait;
 * - else (all jobs ended) ERROR if any failed, CANCELED if all that did not complete were canceled
 *   (and none completed), COMPLETE when all completed, and PARTIAL when some completed and the others
 *   were canceled.
 */
export type InputStatus = JobStatus | 'PARTIAL';

export function aggregateStatus(statuses: readonly JobStatus[]): InputStatus {
  const has = (s: JobStatus) => statuses.includes(s);
  if (statuses.length > 0 && statuses.every((s) => s === 'SUBMITTED')) return 'SUBMITTED';
  if (has('PROGRESSING') || has('SUBMITTED')) return 'PROGRESSING';
  if (has('ERROR')) return 'ERROR';
  if (statuses.length > 0 && statuses.every((s) => s === 'COMPLETE')) return 'COMPLETE';
  if (has('COMPLETE')) return 'PARTIAL';
  return 'CANCELED';
}
