// Job events as the outside sees them: CloudEvents 1.0 (structured JSON) with the types MediaConvert users
// know (SUBMITTED, PROGRESSING, STATUS_UPDATE, COMPLETE, ERROR, CANCELED, INPUT_INFORMATION), built from
// the job-event log alone. Pure: the same logged event always gives the same CloudEvent, so a redelivery
// (or a replay over SSE) is byte for byte what was sent first.
import type { JobEvent } from '../jobs/job.ts';
import type { JobSummary } from '../jobs/job-summary.ts';

export const NOTIFICATION_TYPES = [
  'sluice.job.submitted',
  'sluice.job.progressing',
  'sluice.job.status_update',
  'sluice.job.complete',
  'sluice.job.error',
  'sluice.job.canceled',
  'sluice.input.information',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * Which job events are told, and as what. The others (started, phase, inherited, released on a server's
 * own shutdown, outputs-replaced) are the control plane's bookkeeping: in the job's history, not news.
 */
const PUBLIC_TYPE: Readonly<Record<string, NotificationType>> = {
  'job:created': 'sluice.job.submitted',
  'job:resubmitted': 'sluice.job.submitted',
  'job:claimed': 'sluice.job.progressing',
  'job:input-information': 'sluice.input.information',
  'job:status-update': 'sluice.job.status_update',
  // An attempt failed and will be tried again, or its machine was preempted: the job is back in the queue.
  'job:retry': 'sluice.job.status_update',
  'job:preempted': 'sluice.job.status_update',
  'job:complete': 'sluice.job.complete',
  'job:error': 'sluice.job.error',
  'job:canceled': 'sluice.job.canceled',
  'job:superseded': 'sluice.job.canceled',
};

export function notificationTypeOf(internalType: string): NotificationType | null {
  return PUBLIC_TYPE[internalType] ?? null;
}

/** A job event as the outbox reads it: with its job's summary at that event. */
export interface LoggedEvent extends JobEvent {
  /** Null only for events recorded before summaries were kept (an upgraded database). */
  job: JobSummary | null;
}

export interface JobCloudEvent {
  specversion: '1.0';
  /** Stable: the same event always has this id (receivers deduplicate on it; webhook-id, Nats-Msg-Id). */
  id: string;
  source: string;
  type: NotificationType;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: {
    /** The job event behind it, by its log position (SSE's Last-Event-ID) and its own type. */
    event: {
      seq: number;
      type: string;
      fromStatus: string | null;
      toStatus: string | null;
      details: Record<string, unknown>;
    };
    job: JobSummary | null;
  };
}

/** `sluice` by default; a deployment may name itself (SLUICE_EVENT_SOURCE) so consumers tell installations apart. */
export const DEFAULT_EVENT_SOURCE = 'sluice';

/** The CloudEvent id of a logged event: the job's id and the event's log position. */
export function cloudEventId(e: Pick<JobEvent, 'id' | 'jobId'>): string {
  return `evt_${e.jobId.replace(/^job_/, '')}_${e.id}`;
}

/** The CloudEvent of a logged event; null for an event that is not told (see PUBLIC_TYPE). */
export function toCloudEvent(e: LoggedEvent, source = DEFAULT_EVENT_SOURCE): JobCloudEvent | null {
  const type = notificationTypeOf(e.type);
  if (!type) return null;
  return {
    specversion: '1.0',
    id: cloudEventId(e),
    source,
    type,
    subject: `jobs/${e.jobId}`,
    time: e.at,
    datacontenttype: 'application/json',
    data: {
      event: { seq: e.id, type: e.type, fromStatus: e.fromStatus, toStatus: e.toStatus, details: e.data },
      job: e.job,
    },
  };
}
