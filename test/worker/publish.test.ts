// Publishing an output set on real local buckets: a new set replaces the old one as a whole, nothing of
// the old set survives beside it, and a stopped attempt leaves the old set untouched.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import type { PublishItem } from '../../src/worker/outputs.ts';
import { publish } from '../../src/worker/publish.ts';
import { tempDir } from '../helpers.ts';

const SET = 'talk.mp4/abr-default';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const objects = new LocalObjectStore(dir);
  await objects.ensureBucket('destination');
  const bucketDir = path.join(dir, 'buckets', 'destination');
  const list = async () => (await objects.list('destination')).map((o) => o.key).sort();
  /** The files of one attempt: `segments` chunks in its version folder, an MP4 when asked. */
  const attempt = async (version: string, segments: number, mp4: boolean): Promise<PublishItem[]> => {
    const work = await objects.workDir('w-');
    const items: PublishItem[] = [];
    const add = async (
      key: string,
      type: PublishItem['type'],
      stage: PublishItem['stage'],
      order: number,
    ) => {
      const file = path.join(work, key.replaceAll('/', '_'));
      await fs.writeFile(file, `${version} ${key}`);
      items.push({ file, key, type, stage, order });
    };
    for (let i = 1; i <= segments; i++) await add(`v/${version}/chunk-0-0000${i}.m4s`, null, 'version', 0);
    await add(`v/${version}/media_0.m3u8`, null, 'version', 1);
    if (mp4) await add('talk.mp4', 'mp4', 'entry', 1);
    await add('master.m3u8', 'hls', 'entry', 3);
    return items;
  };
  return { objects, bucketDir, list, attempt };
}

test('a published set has its entry points at stable names, its files under its version, and no staging', async (t) => {
  const { objects, list, bucketDir, attempt } = await setup(t);
  // Leftovers of an earlier, killed attempt of the same job are cleared.
  await fs.mkdir(path.join(bucketDir, '.staging', 'job_1', '1'), { recursive: true });
  await fs.writeFile(path.join(bucketDir, '.staging', 'job_1', '1', 'stale.m4s'), 'old');
  const items = await attempt('job_1-2', 2, true);
  const r = await publish(objects, 'destination', SET, items, { jobId: 'job_1', attempt: 2 }, () => true);
  assert.deepEqual(await list(), [
    `${SET}/master.m3u8`,
    `${SET}/talk.mp4`,
    `${SET}/v/job_1-2/chunk-0-00001.m4s`,
    `${SET}/v/job_1-2/chunk-0-00002.m4s`,
    `${SET}/v/job_1-2/media_0.m3u8`,
  ]);
  assert.deepEqual(
    r.outputs.map((o) => `${o.type} ${o.key}`),
    [`mp4 ${SET}/talk.mp4`, `hls ${SET}/master.m3u8`],
  );
  assert.ok(r.segmentBytes > 0);
});

test('publishing the set again replaces it whole: no file of the old set survives beside the new one', async (t) => {
  const { objects, list, attempt, bucketDir } = await setup(t);
  await publish(
    objects,
    'destination',
    SET,
    await attempt('job_1-1', 3, true),
    { jobId: 'job_1', attempt: 1 },
    () => true,
  );
  // The next run makes fewer segments and no MP4 (its template changed): nothing of the first may stay.
  await publish(
    objects,
    'destination',
    SET,
    await attempt('job_2-1', 1, false),
    { jobId: 'job_2', attempt: 1 },
    () => true,
  );
  assert.deepEqual(await list(), [
    `${SET}/master.m3u8`,
    `${SET}/v/job_2-1/chunk-0-00001.m4s`,
    `${SET}/v/job_2-1/media_0.m3u8`,
  ]);
  assert.equal(await fs.readFile(path.join(bucketDir, SET, 'master.m3u8'), 'utf8'), 'job_2-1 master.m3u8');
});

test('an attempt stopped while uploading leaves the old set exactly as it was, and no version or staging of its own', async (t) => {
  const { objects, list, attempt } = await setup(t);
  await publish(
    objects,
    'destination',
    SET,
    await attempt('job_1-1', 2, true),
    { jobId: 'job_1', attempt: 1 },
    () => true,
  );
  const before = await list();
  let calls = 0;
  await assert.rejects(
    publish(
      objects,
      'destination',
      SET,
      await attempt('job_2-1', 3, true),
      { jobId: 'job_2', attempt: 1 },
      () => ++calls < 3,
    ),
  );
  assert.deepEqual(await list(), before);
});
