// The job model (DESIGN.md "Job model"): public status follows MediaConvert, phase refines PROGRESSING.
import type { ErrorCode } from '../errors.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import type { Template } from '../templates/template.ts';
import type { RetryBackoff } from './retry-policy.ts';

export const JOB_STATUSES = ['SUBMITTED', 'PROGRESSING', 'COMPLETE', 'ERROR', 'CANCELED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: readonly JobStatus[] = ['COMPLETE', 'ERROR', 'CANCELED'];

/** Phases a worker reports while PROGRESSING (STITCHING: a chunked job's parts are being joined). */
export const JOB_PHASES = ['PROBING', 'TRANSCODING', 'STITCHING', 'UPLOADING'] as const;
/**
 * A SUBMITTED job whose launch was refused for capacity or quota: it stays queued and the scheduler's
 * reconcile loop tries again with backoff (seed 000's health check).
 */
export const WAITING_FOR_CAPACITY = 'WAITING_FOR_CAPACITY';
export type JobPhase = (typeof JOB_PHASES)[number] | typeof WAITING_FOR_CAPACITY;

export function isJobStatus(value: string): value is JobStatus {
  return (JOB_STATUSES as readonly string[]).includes(value);
}

export interface ObjectRef {
  bucket: string;
  key: string;
  size?: number;
  etag?: string;
}

export interface JobOutput {
  /** hls | dash | mp4 | thumbnail | sprites | segments | rendition | audio-rendition */
  type: string;
  bucket: string;
  key: string;
  size?: number;
  /** What was measured of a rendition after the encode (bitrates in bit/s). */
  analysis?: Record<string, string | number | null>;
}

export interface JobProgress {
  percent: number;
  fps: number | null;
  speed: number | null;
  etaSeconds: number | null;
}

export interface JobError {
  code: ErrorCode;
  message: string;
}

export interface Job {
  id: string;
  status: JobStatus;
  phase: JobPhase | null;
  progress: JobProgress;
  attempts: number;
  maxAttempts: number;
  runAfter: string;
  /** SHA-256 (hex) of the current attempt's lease token; the token itself is never kept. */
  leaseHash: string | null;
  leaseUntil: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  pipeline: string;
  input: ObjectRef;
  inputMedia: MediaInfo | null;
  templateName: string;
  template: Template;
  destination: { bucket: string; prefix: string };
  outputs: JobOutput[];
  error: JobError | null;
  stderrTail: string | null;
  userMetadata: Record<string, string>;
  idempotencyKey: string;
  /** Jobs of one key in one pipeline scope, whatever the version (see NewJob.versionGroup). */
  versionGroup: string;
  /** A later job published the same output set: this job's outputs were replaced (and are listed no more). */
  outputsReplacedBy: string | null;
  /** The capacity pool of the current (or last) attempt; null before the first claim or for a pool-less claim. */
  pool: string | null;
  /** Times a worker handed the job back on a preemption notice (never charged as attempts). */
  preemptions: number;
  /** When the job's current offer to the pools began (see pool-offer.ts). */
  offeredAt: string;
  /** Its pipeline's priority: claims take the highest first, then the oldest (default 0). */
  priority: number;
  /** Its pipeline's retry backoff; null: the server's (retry-policy.ts). */
  retryBackoff: RetryBackoff | null;
  /** The input (object version) the job was made for; its fan-out siblings share it (input-group.ts). */
  inputId: string;
  /** A chunked job's part: its parent job and which part it is; null on every other job. */
  parentId: string | null;
  part: JobPart | null;
  /** A chunked (parent) job's split into parts; null until split, and on single-pass jobs. */
  split: JobSplit | null;
}

/**
 * Which part of a chunked job (accelerated transcoding) a child job is: one chunk of the video ladder,
 * the audio track with the poster, or the stitch that joins them (and tiles the chunks' sprite frames)
 * and publishes the set.
 */
export type JobPart =
  | { kind: 'chunk'; index: number; of: number; range: ChunkRange }
  | { kind: 'audio' }
  | { kind: 'stitch'; chunks: ChunkRange[] };

/** A parent's split into parts, recorded when its attempt split it (issue 13). */
export interface JobSplit {
  chunks: ChunkRange[];
  /** The attempt that split it and when. */
  attempt: number;
  at: string;
}

export interface JobEvent {
  id: number;
  jobId: string;
  at: string;
  type: string;
  fromStatus: JobStatus | null;
  toStatus: JobStatus | null;
  data: Record<string, unknown>;
}

export type NewJob = Pick<
  Job,
  'pipeline' | 'input' | 'templateName' | 'template' | 'destination' | 'userMetadata' | 'idempotencyKey'
> & {
  maxAttempts?: number;
  /** Template limits the server-wide ceilings lowered, recorded on the job's created event. */
  limitsLowered?: string[];
  /**
   * Jobs of one key in one pipeline scope, whatever its version: a newer version supersedes the queued and
   * running jobs of the older ones. Defaults to the idempotency key (nothing is superseded).
   */
  versionGroup?: string;
  /** The pipeline's priority (default 0) and retry backoff (default: the server's). */
  priority?: number;
  retryBackoff?: RetryBackoff | null;
  /** A part of a chunked job: its parent, which part, and the parent's probe of the input. */
  parentId?: string;
  part?: JobPart;
  inputMedia?: MediaInfo;
};

/** `bucket/prefix`: the output set a job publishes; one input through one template owns one set. */
export function outputSetOf(destination: { bucket: string; prefix: string }): string {
  return `${destination.bucket}/${destination.prefix}`;
}
