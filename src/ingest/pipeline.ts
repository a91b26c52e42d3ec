// Pipelines, pure: which object events make jobs, with which template, into which destination, at which
// priority and with which retry policy. Built in code (the default pipeline) or read from a configuration
// file (config/pipeline-file.ts).
import type { RetryBackoff } from '../jobs/retry-policy.ts';
import type { Chunking } from '../templates/template.ts';

export interface Pipeline {
  name: string;
  bucket: string;
  prefix: string;
  /** Lower-case suffixes; an object matches if its key ends with one of them. */
  suffixes: string[];
  template: string;
  destinationBucket: string;
  /**
   * Seed 002's watch folder: JSON settings files under this prefix of the bucket each make a job for
   * every upload (the template when there are none). Objects under it are never inputs themselves.
   */
  settingsPrefix?: string;
  /** Prepended to each job's output prefix in the destination bucket (default none). */
  destinationPrefix?: string;
  /** Claims take higher first, then older (default 0). */
  priority?: number;
  /** Attempts per job (default: the template's) and backoff between them (default: the server's). */
  retry?: { maxAttempts?: number; backoff?: RetryBackoff };
  /** Accelerated transcoding for its jobs, in place of its templates' own (config/pipeline-file.ts). */
  chunking?: Chunking;
}

export const SETTINGS_PREFIX = 'jobs/';

/** Containers users commonly upload; anything else in the watched bucket is left alone. */
export const VIDEO_SUFFIXES = [
  '.mp4',
  '.mov',
  '.m4v',
  '.mkv',
  '.webm',
  '.avi',
  '.mpg',
  '.mpeg',
  '.ts',
  '.mxf',
  '.flv',
  '.wmv',
  '.3gp',
];

/**
 * Audio files people upload (as Mux and PeerTube take them): under a video template they give that
 * template's audio part, HLS/DASH audio (see templates/ladder.ts `planJob`). `.opus` and `.oga` are Ogg.
 */
export const AUDIO_SUFFIXES = ['.m4a', '.mp3', '.wav', '.flac', '.aac', '.ogg', '.oga', '.opus', '.wma'];

/** Every video and audio upload to the source bucket, into the destination bucket (names configurable). */
export function defaultPipeline(
  template: string,
  buckets: { source: string; destination: string } = { source: 'source', destination: 'destination' },
): Pipeline {
  return {
    name: 'default',
    bucket: buckets.source,
    prefix: '',
    suffixes: [...VIDEO_SUFFIXES, ...AUDIO_SUFFIXES],
    template,
    destinationBucket: buckets.destination,
    settingsPrefix: SETTINGS_PREFIX,
  };
}

export function matchPipelines(pipelines: Pipeline[], bucket: string, key: string): Pipeline[] {
  const lower = key.toLowerCase();
  return pipelines.filter(
    (p) =>
      p.bucket === bucket &&
      key.startsWith(p.prefix) &&
      !(p.settingsPrefix && key.startsWith(p.settingsPrefix)) &&
      p.suffixes.some((s) => lower.endsWith(s)),
  );
}

export function idempotencyKey(pipeline: string, bucket: string, key: string, etag: string): string {
  return JSON.stringify([pipeline, bucket, key, etag]);
}

/** Every version of one key in one scope: a newer one supersedes the queued and running jobs of the rest. */
export function versionGroup(scope: string, bucket: string, key: string): string {
  return JSON.stringify([scope, bucket, key]);
}
