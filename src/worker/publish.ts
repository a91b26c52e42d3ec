// Publishing one attempt's output set so that it replaces the set before it as a whole:
//   1. the version files (segments, media playlists, sprite sheets) go under `<set>/v/<version>/`, a
//      folder only this attempt writes, so nothing a reader can reach changes;
//   2. the entry points (MP4, poster, sprites.vtt, then the HLS master and DASH manifest last) are
//      staged, then each is renamed over its stable name: one atomic replace per file, and every
//      manifest a reader gets points at a complete version;
//   3. what the old set had and the new one has not (its version folder, entry points it made and this
//      one does not) is removed, so no file of the old set survives beside the new one.
// A failed or stopped attempt leaves the old set as it was (its version folder is removed).
// On a store whose every write replaces its object atomically (S3: `replacesAtomically`), step 2 writes
// each entry point straight over its stable name, in the same order (manifests last) once the version
// folder is complete: no staging and no copy + delete per file. The Worker API's publish route (remote
// workers) keeps staging, so the entry points go in server-side, under the attempt's lease.
import type { JobOutput } from '../jobs/job.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type PublishItem, versionFolder } from './outputs.ts';

/** Where one attempt stages its entry points; `.staging/<job>/` as a whole belongs to the job. */
export function stagingPrefix(jobId: string, attempt?: number): string {
  return attempt === undefined ? `.staging/${jobId}` : `.staging/${jobId}/${attempt}`;
}

/** An attempt's version name: sortable by job creation (job ids are time-ordered), then attempt. */
export function versionName(jobId: string, attempt: number): string {
  return `${jobId}-${attempt}`;
}

export async function publish(
  objects: ObjectStore,
  bucket: string,
  set: string,
  items: PublishItem[],
  attempt: { jobId: string; attempt: number },
  stillWanted: () => boolean,
): Promise<{ outputs: JobOutput[]; segmentBytes: number }> {
  const jobStaging = stagingPrefix(attempt.jobId);
  const staging = stagingPrefix(attempt.jobId, attempt.attempt);
  // What an earlier attempt of this job left behind (it was killed) goes first.
  await objects.removePrefix(bucket, jobStaging);
  const outputs: JobOutput[] = [];
  let segmentBytes = 0;
  let swapped = false;
  const direct = objects.replacesAtomically === true;
  try {
    for (const item of items) {
      // Once the first entry point is written the set is being replaced: it is finished, not left mixed.
      if (!swapped && !stillWanted()) throw new Error('attempt stopped while uploading');
      if (direct && item.stage === 'entry') swapped = true;
      const key = item.stage === 'version' || direct ? `${set}/${item.key}` : `${staging}/${item.key}`;
      const info = await objects.upload(bucket, key, item.file, { move: true });
      if (item.type) outputs.push({ type: item.type, bucket, key: `${set}/${item.key}`, size: info.size });
      else segmentBytes += info.size;
    }
    const entries = items.filter((i) => i.stage === 'entry').map((i) => i.key);
    if (direct) {
      await removeStale(objects, bucket, set, entries, attempt);
      return { outputs, segmentBytes };
    }
    if (!stillWanted()) throw new Error('attempt stopped before publishing');
    swapped = true;
    await swapEntries(objects, bucket, set, entries, attempt);
    return { outputs, segmentBytes };
  } finally {
    if (!swapped) await discardAttempt(objects, bucket, set, attempt);
    await objects.removePrefix(bucket, jobStaging).catch(() => {});
  }
}

/**
 * Steps 2 and 3 above, once the version folder is complete and the entry points are staged: each staged
 * entry point (in the order given: manifests last) is renamed over its stable name, then what the old set
 * had and this one has not is removed. The Worker API's publish route runs this for remote workers.
 */
export async function swapEntries(
  objects: ObjectStore,
  bucket: string,
  set: string,
  entryKeys: string[],
  attempt: { jobId: string; attempt: number },
): Promise<void> {
  const staging = stagingPrefix(attempt.jobId, attempt.attempt);
  for (const key of entryKeys) await objects.move(bucket, `${staging}/${key}`, `${set}/${key}`);
  await removeStale(objects, bucket, set, entryKeys, attempt);
}

/** Step 3: what the old set had and the new one has not goes, and the job's staging folder. */
async function removeStale(
  objects: ObjectStore,
  bucket: string,
  set: string,
  entryKeys: string[],
  attempt: { jobId: string; attempt: number },
): Promise<void> {
  const version = `${set}/${versionFolder(versionName(attempt.jobId, attempt.attempt))}`;
  const keep = new Set(entryKeys.map((k) => `${set}/${k}`));
  const stale = (await objects.list(bucket, `${set}/`)).filter(
    (o) => !keep.has(o.key) && !o.key.startsWith(`${version}/`),
  );
  const oldVersions = new Set<string>();
  for (const o of stale) {
    const m = /^v\/([^/]+)\//.exec(o.key.slice(set.length + 1));
    if (m) oldVersions.add(`${set}/v/${m[1]}`);
    else await objects.remove(bucket, o.key);
  }
  for (const v of oldVersions) await objects.removePrefix(bucket, v);
  await objects.removePrefix(bucket, stagingPrefix(attempt.jobId)).catch(() => {});
}

/** A failed or stopped attempt's version folder and staged entry points go; the published set stays. */
export async function discardAttempt(
  objects: ObjectStore,
  bucket: string,
  set: string,
  attempt: { jobId: string; attempt: number },
): Promise<void> {
  const version = `${set}/${versionFolder(versionName(attempt.jobId, attempt.attempt))}`;
  await objects.removePrefix(bucket, version).catch(() => {});
  await objects.removePrefix(bucket, stagingPrefix(attempt.jobId, attempt.attempt)).catch(() => {});
}
