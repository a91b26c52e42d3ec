// What one attempt needs of storage: the job's input (its version, its bytes), a scratch folder, and a
// way to publish its outputs. A local worker does it on the data directory's ObjectStore; a remote pull
// worker through the URLs its assignment grants (remote-object-store.ts), with no store of its own.
import type { JobOutput } from '../jobs/job.ts';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.ts';
import { partKey } from '../storage/parts-area.ts';
import type { PublishItem } from './outputs.ts';
import { publish } from './publish.ts';

export interface AttemptStorage {
  /** The input object's current version (null when gone); the job's own input only. */
  stat(bucket: string, key: string): Promise<ObjectInfo | null>;
  download(bucket: string, key: string, toFile: string): Promise<void>;
  workDir(prefix: string): Promise<string>;
  /** publish.ts's algorithm: version folder first, entry points swapped in last. */
  publish(
    bucket: string,
    set: string,
    items: PublishItem[],
    attempt: { jobId: string; attempt: number },
    stillWanted: () => boolean,
  ): Promise<{ outputs: JobOutput[]; segmentBytes: number }>;
  /**
   * Chunked jobs (storage/parts-area.ts): a part writes `<its part name>/<file>` into its parent's parts
   * area, and reads any file of it (false when the file is not there).
   */
  putPart(bucket: string, parentId: string, rel: string, file: string): Promise<void>;
  getPart(bucket: string, parentId: string, rel: string, toFile: string): Promise<boolean>;
}

export function localAttemptStorage(objects: ObjectStore): AttemptStorage {
  return {
    stat: (bucket, key) => objects.stat(bucket, key),
    download: (bucket, key, toFile) => objects.download(bucket, key, toFile),
    workDir: (prefix) => objects.workDir(prefix),
    publish: (bucket, set, items, attempt, stillWanted) =>
      publish(objects, bucket, set, items, attempt, stillWanted),
    putPart: async (bucket, parentId, rel, file) => {
      await objects.upload(bucket, partKey(parentId, rel), file);
    },
    getPart: async (bucket, parentId, rel, toFile) => {
      const key = partKey(parentId, rel);
      if (!(await objects.stat(bucket, key))) return false;
      await objects.download(bucket, key, toFile);
      return true;
    },
  };
}
