// The shapes the console reads from the API (src/api/job-view.ts and docs/api.md), as far as it uses them.
import type { MediaInfo } from '../media/media-info.ts';
import type { Plan } from '../templates/ladder.ts';

export const STATUSES = ['SUBMITTED', 'PROGRESSING', 'COMPLETE', 'ERROR', 'CANCELED'] as const;
export type Status = (typeof STATUSES)[number];

export interface Progress {
  percent: number | null;
  fps: number | null;
  speed: number | null;
  etaSeconds: number | null;
}

export interface Output {
  type: string;
  bucket: string;
  key: string;
  size?: number | null;
  analysis?: Record<string, unknown> | null;
}

/** A job as GET /v1/jobs/:id answers it, and (fewer fields) as an event's `data.job` summary. */
export interface JobView {
  id: string;
  status: Status;
  phase: string | null;
  progress: Progress;
  attempts: number;
  maxAttempts: number;
  pipeline?: string;
  input: { bucket: string; key: string; size?: number | null };
  inputMedia?: MediaInfo | null;
  templateName?: string;
  template?: { name: string; settings: unknown } | string;
  destination: { bucket: string; prefix: string };
  outputs: Output[];
  error: { code: string; message: string } | null;
  stderrTail?: string;
  userMetadata?: Record<string, string>;
  pool?: string;
  createdAt: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  outputsReplacedBy?: string | null;
  offeredTo?: string[];
  priority?: number;
  position?: number;
  /** Chunked jobs: a part's parent and which part; a split job's chunk plan. */
  parentId?: string | null;
  part?: { kind: 'chunk'; index: number; of: number } | { kind: 'audio' } | { kind: 'stitch' } | null;
  split?: { chunks: unknown[]; attempt: number; at: string } | null;
}

export interface JobEvent {
  id: number;
  jobId: string;
  at: string;
  type: string;
  fromStatus: string | null;
  toStatus: string | null;
  data: Record<string, unknown> | null;
}

export interface PoolView {
  pool: string;
  queued: number;
  waitingForCapacity: number;
  running: number;
  demand: number;
  runningJobs?: { id: string; key: string; phase: string | null; percent: number | null }[];
  workers?: { id: string; label: string | null; lastUsedAt: string | null; revokedAt: string | null }[];
}

export interface FieldError {
  field: string;
  message: string;
}

export interface PlanView {
  template: string;
  input: MediaInfo;
  plan: Plan;
}

export function templateNameOf(job: JobView): string {
  if (typeof job.template === 'string') return job.template;
  return job.template?.name ?? job.templateName ?? '—';
}
