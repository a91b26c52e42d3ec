// A job processes exactly the object version it recorded. The worker checks the object before and after
// the download and again before it reports: a file that was still being written, or was replaced, has
// another size or etag, and the attempt ends SUPERSEDED (the newer version has, or will get, its own job)
// instead of publishing outputs of bytes the job never recorded or failing on a partial file.
import fs from 'node:fs/promises';
import { SluiceError } from '../errors.ts';
import type { ObjectRef } from '../jobs/job.ts';
import type { ObjectStore } from '../storage/object-store.ts';

function changed(input: ObjectRef, now: string): SluiceError {
  return new SluiceError(
    'SUPERSEDED',
    `${input.bucket}/${input.key} changed after the job was made (recorded ${input.size ?? '?'} bytes, etag ${input.etag ?? '?'}; now ${now}); the newer version is processed by its own job`,
  );
}

/** Throws SUPERSEDED when the object is no longer the version the job recorded. */
export async function requireRecordedVersion(
  objects: Pick<ObjectStore, 'stat'>,
  input: ObjectRef,
): Promise<void> {
  const current = await objects.stat(input.bucket, input.key);
  if (!current) return; // gone: the download (or the next step) reports OBJECT_NOT_FOUND
  if (
    (input.etag && current.etag !== input.etag) ||
    (input.size !== undefined && current.size !== input.size)
  ) {
    throw changed(input, `${current.size} bytes, etag ${current.etag}`);
  }
}

/** The downloaded copy must have the recorded size. */
export async function requireRecordedSize(file: string, input: ObjectRef): Promise<void> {
  const size = (await fs.stat(file)).size;
  if (input.size !== undefined && size !== input.size) throw changed(input, `${size} bytes read`);
}

/** After a failure: was it because the object changed under the attempt? Then that is the verdict. */
export async function supersededSince(
  objects: Pick<ObjectStore, 'stat'>,
  input: ObjectRef,
): Promise<SluiceError | null> {
  try {
    await requireRecordedVersion(objects, input);
    return null;
  } catch (err) {
    return err instanceof SluiceError && err.code === 'SUPERSEDED' ? err : null;
  }
}
