// Which job events (and progress messages) a subscriber of the live event stream wants: by job, by
// notification type, by pipeline, by the job's status and by userMetadata fields. Pure: matched on the
// job summary each logged event carries, so a replay picks exactly what the live stream picked.
import type { JobStatus } from '../jobs/job.ts';
import type { JobSummary } from '../jobs/job-summary.ts';
import { type LoggedEvent, type NotificationType, notificationTypeOf } from './cloud-event.ts';

/** The SSE event name of a live progress message (not a logged event: no id, not replayed). */
export const PROGRESS_EVENT_TYPE = 'sluice.job.progress';
export type StreamEventType = NotificationType | typeof PROGRESS_EVENT_TYPE;

/** Every field narrows; an absent one matches all. Lists match any of their values. */
export interface EventFilter {
  jobIds?: string[];
  types?: StreamEventType[];
  pipelines?: string[];
  statuses?: JobStatus[];
  /** userMetadata fields that must all have these values. */
  meta?: Record<string, string>;
}

function matchesJob(f: EventFilter, job: JobSummary | null, jobId: string): boolean {
  if (f.jobIds && !f.jobIds.includes(jobId)) return false;
  // A chunked job's parts are its own business: streamed only to whoever follows that part by its id.
  if (job?.parentId && !f.jobIds) return false;
  const needsSummary = f.pipelines || f.statuses || (f.meta && Object.keys(f.meta).length > 0);
  if (!needsSummary) return true;
  // An event recorded before summaries were kept (an upgraded database) cannot be told apart: left out.
  if (!job) return false;
  if (f.pipelines && !f.pipelines.includes(job.pipeline)) return false;
  if (f.statuses && !f.statuses.includes(job.status)) return false;
  for (const [k, v] of Object.entries(f.meta ?? {})) if (job.userMetadata[k] !== v) return false;
  return true;
}

/** A logged event passes: it is told (has a notification type) and matches every field. */
export function matchesEvent(f: EventFilter, e: LoggedEvent): boolean {
  const type = notificationTypeOf(e.type);
  if (!type) return false;
  if (f.types && !f.types.includes(type)) return false;
  return matchesJob(f, e.job, e.jobId);
}

/** A progress message about this job passes. */
export function matchesProgress(f: EventFilter, job: JobSummary): boolean {
  if (f.types && !f.types.includes(PROGRESS_EVENT_TYPE)) return false;
  return matchesJob(f, job, job.id);
}
