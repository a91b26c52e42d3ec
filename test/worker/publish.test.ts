// Publishing through a staging prefix, on real local buckets: all or nothing under the final prefix.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import type { PublishItem } from '../../src/worker/outputs.ts';
import { publish } from '../../src/worker/publish.ts';
import { tempDir } from '../helpers.ts';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const objects = new LocalObjectStore(dir);
  await objects.ensureBucket('destination');
  const work = await objects.workDir('w-');
  const items: PublishItem[] = [];
  for (const [name, type, order] of [
    ['chunk-0-00001.m4s', null, 0],
    ['clip.mp4', 'mp4', 1],
    ['media_0.m3u8', null, 2],
    ['master.m3u8', 'hls', 3],
  ] as const) {
    const file = path.join(work, name);
    await fs.writeFile(file, `${name} bytes`);
    items.push({ file, key: `clip/${name}`, type, order });
  }
  const bucketDir = path.join(dir, 'buckets', 'destination');
  const list = async () => (await objects.list('destination')).map((o) => o.key).sort();
  return { objects, items, bucketDir, list };
}

test('a published attempt has every file under its final keys and no staging left', async (t) => {
  const { objects, items, list, bucketDir } = await setup(t);
  // Leftovers of an earlier, killed attempt of the same job are cleared.
  await fs.mkdir(path.join(bucketDir, '.staging', 'job_1', '1', 'clip'), { recursive: true });
  await fs.writeFile(path.join(bucketDir, '.staging', 'job_1', '1', 'clip', 'stale.m4s'), 'old');
  const r = await publish(objects, 'destination', items, { jobId: 'job_1', attempt: 2 }, () => true);
  assert.deepEqual(await list(), [
    'clip/chunk-0-00001.m4s',
    'clip/clip.mp4',
    'clip/master.m3u8',
    'clip/media_0.m3u8',
  ]);
  assert.deepEqual(
    r.outputs.map((o) => `${o.type} ${o.key}`),
    ['mp4 clip/clip.mp4', 'hls clip/master.m3u8'],
  );
  assert.ok(r.segmentBytes > 0);
  assert.equal(await fs.readFile(path.join(bucketDir, 'clip', 'master.m3u8'), 'utf8'), 'master.m3u8 bytes');
});

test('an attempt stopped while uploading leaves nothing under the final prefix and no staging', async (t) => {
  const { objects, items, list } = await setup(t);
  let calls = 0;
  await assert.rejects(
    publish(objects, 'destination', items, { jobId: 'job_2', attempt: 1 }, () => ++calls < 3),
  );
  assert.deepEqual(await list(), []);
});
