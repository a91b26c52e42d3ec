// LocalObjectStore basics (moved from the old bucket-watcher test): put is all or nothing, keys are
// validated, stat and list see only real objects.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { waitFor } from '../helpers.ts';

const BUCKET = 'source';

async function fixture(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-store-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const store = new LocalObjectStore(dir);
  const bucketDir = await store.ensureBucket(BUCKET);
  const write = async (key: string, content: string | Buffer): Promise<string> => {
    const file = path.join(bucketDir, ...key.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
    return file;
  };
  return { dir, store, bucketDir, write };
}

test('LocalObjectStore.put() makes the object appear only once the stream is complete', async (t) => {
  const { dir, store, bucketDir } = await fixture(t);
  const key = 'incoming/slow.mp4';
  const target = path.join(bucketDir, 'incoming', 'slow.mp4');
  const body = new PassThrough();
  const put = store.put(BUCKET, key, body);

  body.write(Buffer.alloc(1000, 1));
  body.write(Buffer.alloc(1000, 2));
  // The first 2000 bytes have reached the disk somewhere under the data directory: the write is under way.
  await waitFor('2000 bytes on disk', async () => {
    const names = await fs.readdir(dir, { recursive: true });
    const sizes = await Promise.all(
      names.map((n) => fs.stat(path.join(dir, n)).then((s) => (s.isFile() ? s.size : -1))),
    );
    return sizes.includes(2000);
  });
  assert.equal(existsSync(target), false, 'target absent while the stream is still being written');
  assert.equal(await store.stat(BUCKET, key), null);
  assert.deepEqual(await store.list(BUCKET), [], 'nothing listed in the bucket mid-write');

  body.end(Buffer.alloc(500, 3));
  const info = await put;
  assert.equal(existsSync(target), true);
  assert.equal((await fs.stat(target)).size, 2500);
  assert.equal(info.size, 2500);
  assert.equal(info.key, key);
  assert.deepEqual(await store.stat(BUCKET, key), info);
});

test('LocalObjectStore.pathOf refuses keys that leave the bucket with INVALID_OBJECT_KEY', async (t) => {
  const { store } = await fixture(t);
  for (const key of ['../x', 'a/../../x', '..', '/etc/passwd', 'a\\..\\x', '%2e%2e/x']) {
    assert.throws(
      () => store.pathOf(BUCKET, key),
      (err: unknown) => err instanceof SluiceError && err.code === 'INVALID_OBJECT_KEY',
      `key ${JSON.stringify(key)}`,
    );
  }
  assert.equal(store.pathOf(BUCKET, 'a/b.mp4'), path.join(store.root, BUCKET, 'a', 'b.mp4'));
});

test('LocalObjectStore.stat of a missing object returns null', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', 'data');
  assert.equal(await store.stat(BUCKET, 'missing.mp4'), null);
  assert.equal(await store.stat('no-such-bucket', 'clip.mp4'), null);
  assert.equal(await store.stat(BUCKET, 'clip'), null, 'a folder-less prefix is not an object');
  await write('folder/inner.mp4', 'x');
  assert.equal(await store.stat(BUCKET, 'folder'), null, 'a folder is not an object');
  // A key "under" an existing object: the parent is a file, so the object cannot exist.
  assert.equal(await store.stat(BUCKET, 'clip.mp4/poster.jpg'), null);
});

test('LocalObjectStore.list(bucket, prefix) returns only objects whose key starts with the prefix', async (t) => {
  const { store, write } = await fixture(t);
  for (const key of ['a/1.mp4', 'a/b/2.mp4', 'ab.mp4', 'c.mp4']) await write(key, key);
  const keys = async (prefix?: string) => (await store.list(BUCKET, prefix)).map((o) => o.key).sort();
  assert.deepEqual(await keys(), ['a/1.mp4', 'a/b/2.mp4', 'ab.mp4', 'c.mp4'], 'folders are not listed');
  assert.deepEqual(await keys('a/'), ['a/1.mp4', 'a/b/2.mp4']);
  assert.deepEqual(await keys('a/b/'), ['a/b/2.mp4']);
  assert.deepEqual(await keys('a'), ['a/1.mp4', 'a/b/2.mp4', 'ab.mp4']);
  assert.deepEqual(await keys('zzz'), []);
  assert.deepEqual(await store.list('no-such-bucket'), []);
  const [one] = await store.list(BUCKET, 'c.mp4');
  assert.equal(one?.size, 'c.mp4'.length);
  assert.equal(one?.bucket, BUCKET);
});
