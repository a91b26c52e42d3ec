// Publishing without renames, on s3rver (a real S3-protocol server on loopback): a new output set replaces
// the old one as a whole, with entry points written straight over their stable names (manifests last),
// or staged and copied in (the Worker API's path); while it happens, a reader that follows the master
// playlist never meets a playlist or segment that is missing. A stopped attempt leaves the old set.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { S3ObjectStore } from '../../src/storage/s3-object-store.ts';
import type { PublishItem } from '../../src/worker/outputs.ts';
import { publish } from '../../src/worker/publish.ts';
import { tempDir } from '../helpers.ts';
import { type S3Server, s3StoreOn, startS3rver } from '../s3rver.ts';

const SET = 'talk.mp4/abr-default';
type T = Parameters<typeof tempDir>[0];

/** The same store with entry points staged and copied in (as the Worker API's publish route does). */
class StagingS3Store extends S3ObjectStore {
  override readonly replacesAtomically = false;
}

/** One attempt's files: `segments` chunks and a media playlist naming them, a master naming that. */
async function attempt(t: T, version: string, segments: number): Promise<PublishItem[]> {
  const work = await tempDir(t, 'sluice-s3-publish-');
  const items: PublishItem[] = [];
  const add = async (
    key: string,
    body: string,
    type: PublishItem['type'],
    stage: PublishItem['stage'],
    order: number,
  ) => {
    const file = path.join(work, key.replaceAll('/', '_'));
    await fs.writeFile(file, body);
    items.push({ file, key, type, stage, order });
  };
  const chunks = Array.from({ length: segments }, (_, i) => `chunk-0-0000${i + 1}.m4s`);
  for (const c of chunks) await add(`v/${version}/${c}`, `${version} ${c}`.repeat(200), null, 'version', 0);
  await add(`v/${version}/media_0.m3u8`, `#EXTM3U\n${chunks.join('\n')}\n`, null, 'version', 1);
  await add('talk.mp4', `${version} mp4`, 'mp4', 'entry', 1);
  await add('master.m3u8', `#EXTM3U\nv/${version}/media_0.m3u8\n`, 'hls', 'entry', 3);
  return items;
}

const keys = async (s: ObjectStore) => (await s.list('destination')).map((o) => o.key).sort();

/**
 * Follows master -> media playlist -> segments until told to stop. A file found missing counts only if
 * the master playlist still names its version afterwards: a reader that holds an old manifest while the
 * next publish removes the old version is not a manifest naming missing files.
 */
function reader(s: ObjectStore) {
  let stop = false;
  const missing: string[] = [];
  let reads = 0;
  const masterNames = async (): Promise<string[]> => {
    const master = await s.read('destination', `${SET}/master.m3u8`, 10_000).catch(() => null);
    return (master?.toString() ?? '').split('\n').filter((l) => l && !l.startsWith('#'));
  };
  const miss = async (media: string, file: string) => {
    if ((await masterNames()).includes(media)) missing.push(file);
  };
  const done = (async () => {
    while (!stop) {
      for (const media of await masterNames()) {
        const playlist = await s.read('destination', `${SET}/${media}`, 10_000).catch(() => null);
        if (!playlist) {
          await miss(media, media);
          continue;
        }
        const dir = media.slice(0, media.lastIndexOf('/'));
        for (const seg of playlist
          .toString()
          .split('\n')
          .filter((l) => l && !l.startsWith('#'))) {
          if (!(await s.stat('destination', `${SET}/${dir}/${seg}`))) await miss(media, `${dir}/${seg}`);
        }
      }
      reads++;
      await new Promise((r) => setTimeout(r, 5)); // a reader, not a load test
    }
  })();
  return {
    async finish() {
      stop = true;
      await done;
      return { missing, reads };
    },
  };
}

async function republishWhileReading(t: T, s3: S3Server, store: ObjectStore) {
  await publish(
    store,
    'destination',
    SET,
    await attempt(t, 'job_1-1', 4),
    { jobId: 'job_1', attempt: 1 },
    () => true,
  );
  const r = reader(store);
  for (let i = 2; i <= 4; i++) {
    const v = `job_${i}-1`;
    await publish(
      store,
      'destination',
      SET,
      await attempt(t, v, 5 - i),
      { jobId: `job_${i}`, attempt: 1 },
      () => true,
    );
  }
  const { missing, reads } = await r.finish();
  assert.ok(reads > 0, 'the reader read the set while it was republished');
  assert.deepEqual(missing, [], 'no manifest named a missing file');
  assert.deepEqual(await keys(store), [
    `${SET}/master.m3u8`,
    `${SET}/talk.mp4`,
    `${SET}/v/job_4-1/chunk-0-00001.m4s`,
    `${SET}/v/job_4-1/media_0.m3u8`,
  ]);
  assert.equal((await store.read('destination', `${SET}/talk.mp4`, 100)).toString(), 'job_4-1 mp4');
  return s3.requests;
}

test('S3 publish (s3rver, a real S3-protocol server on loopback): entry points straight over their names, manifests last; a reader never meets a missing file', async (t) => {
  const s3 = await startS3rver(t);
  const requests = await republishWhileReading(t, s3, s3StoreOn(t, s3));
  assert.ok(
    requests.every((r) => !(r.method === 'PUT' && r.path.includes('.staging'))),
    'nothing is staged: no copy + delete per entry point',
  );
});

test('S3 publish (s3rver, a real S3-protocol server on loopback): staged entry points copied in (the Worker API path) hold the same guarantee', async (t) => {
  const s3 = await startS3rver(t);
  const store = new StagingS3Store({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    requestTimeoutMs: 5000, // see s3StoreOn
  });
  t.after(() => store.close());
  const requests = await republishWhileReading(t, s3, store);
  assert.ok(
    requests.some((r) => r.method === 'PUT' && r.path.includes('.staging')),
    'entry points were staged',
  );
});

test('S3 publish (s3rver, a real S3-protocol server on loopback): an attempt stopped before its entry points leaves the old set exactly as it was', async (t) => {
  const s3 = await startS3rver(t);
  const store = s3StoreOn(t, s3);
  await publish(
    store,
    'destination',
    SET,
    await attempt(t, 'job_1-1', 2),
    { jobId: 'job_1', attempt: 1 },
    () => true,
  );
  const before = await keys(store);
  let calls = 0;
  // Wanted for the version files, not any more when the first entry point is due.
  const items = await attempt(t, 'job_2-1', 3);
  const versionFiles = items.filter((i) => i.stage === 'version').length;
  await assert.rejects(
    publish(store, 'destination', SET, items, { jobId: 'job_2', attempt: 1 }, () => ++calls <= versionFiles),
  );
  assert.deepEqual(await keys(store), before);
  assert.equal((await store.read('destination', `${SET}/talk.mp4`, 100)).toString(), 'job_1-1 mp4');
});
