// What a job may publish: objects in its own destination bucket, under its own destination prefix.
// The Worker API checks every output of a `complete` against this, so neither a buggy worker nor whoever
// holds an attempt's token can record `../../etc/passwd` or another job's folder as this job's results.
// Written against `destination.prefix` alone: the layout of prefixes may change, the rule does not.
import { SluiceError } from '../errors.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { Job, JobOutput } from './job.ts';

/** Throws OUTPUT_OUTSIDE_DESTINATION for the first output that is not the job's to publish. */
export function requireOutputsInDestination(destination: Job['destination'], outputs: JobOutput[]): void {
  const prefix = destination.prefix.replace(/\/+$/, '');
  const where = `${destination.bucket}/${prefix ? `${prefix}/` : ''}`;
  for (const o of outputs) {
    const why = refusal(destination.bucket, prefix, o);
    if (why) {
      throw new SluiceError(
        'OUTPUT_OUTSIDE_DESTINATION',
        `output ${JSON.stringify(`${o.bucket}/${o.key}`)} is refused: ${why}; a job's outputs must be objects under ${where} (its destination), so nothing was recorded`,
        { bucket: o.bucket, key: o.key, destination: where },
      );
    }
  }
}

function refusal(bucket: string, prefix: string, o: JobOutput): string | null {
  if (o.bucket !== bucket)
    return `it is in bucket ${JSON.stringify(o.bucket)}, not ${JSON.stringify(bucket)}`;
  // A folder-like key (`<prefix>/`, the shared segments) names the prefix or a folder below it.
  const folder = o.key.endsWith('/');
  const key = folder ? o.key.slice(0, -1) : o.key;
  try {
    validateObjectKey(key);
  } catch (err) {
    return (err as Error).message;
  }
  if (!prefix) return null;
  if (key.startsWith(`${prefix}/`) || (folder && key === prefix)) return null;
  return `its key is not under ${prefix}/`;
}
