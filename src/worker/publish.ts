// Atomic-enough publishing: every file of an attempt is first uploaded under a staging prefix of the
// destination bucket, and only once all of them are there are they moved to their final keys, segments
// first and manifests last. A failed or canceled attempt leaves nothing under the final prefix.
import type { JobOutput } from '../jobs/job.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { PublishItem } from './outputs.ts';

/** Where one attempt stages its files; `.staging/<job>/` as a whole belongs to the job. */
export function stagingPrefix(jobId: string, attempt?: number): string {
  return attempt === undefined ? `.staging/${jobId}` : `.staging/${jobId}/${attempt}`;
}

export async function publish(
  objects: ObjectStore,
  bucket: string,
  items: PublishItem[],
  staging: { jobId: string; attempt: number },
  stillWanted: () => boolean,
): Promise<{ outputs: JobOutput[]; segmentBytes: number }> {
  const jobStaging = stagingPrefix(staging.jobId);
  const prefix = stagingPrefix(staging.jobId, staging.attempt);
  // What an earlier attempt of this job left behind (it was killed) goes first.
  await objects.removePrefix(bucket, jobStaging);
  const outputs: JobOutput[] = [];
  let segmentBytes = 0;
  try {
    for (const item of items) {
      if (!stillWanted()) throw new Error('attempt stopped while uploading');
      const info = await objects.upload(bucket, `${prefix}/${item.key}`, item.file, { move: true });
      if (item.type) outputs.push({ type: item.type, bucket, key: item.key, size: info.size });
      else segmentBytes += info.size;
    }
    if (!stillWanted()) throw new Error('attempt stopped before publishing');
    for (const item of items) await objects.move(bucket, `${prefix}/${item.key}`, item.key);
    return { outputs, segmentBytes };
  } finally {
    await objects.removePrefix(bucket, jobStaging).catch(() => {});
  }
}
