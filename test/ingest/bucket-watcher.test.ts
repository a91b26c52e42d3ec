// BucketWatcher on a real LocalObjectStore: one object-created CloudEvent per settled object version,
// nothing for files still being written or temp-named, redelivery only for retryable failures.
// Most tests drive scan(nowMs) with explicit times; one runs start()/stop() against a live writer.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { SluiceError } from '../../src/errors.ts';
import { BucketWatcher } from '../../src/ingest/bucket-watcher.ts';
import type { ObjectEvent } from '../../src/ingest/object-event.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import type { ObjectInfo } from '../../src/storage/object-store.ts';
import { waitFor } from '../helpers.ts';

const log = pino({ level: 'silent' });
const BUCKET = 'source';
const SETTLE = 1_000;
const T0 = 1_700_000_000_000;

type TestContext = { after: (fn: () => Promise<void>) => void };

/** LocalObjectStore that counts list() calls, so a real-time test can prove the watcher was scanning. */
class CountingStore extends LocalObjectStore {
  lists = 0;
  /** When each list() (one per watcher scan) started. */
  readonly listedAt: number[] = [];
  override async list(bucket: string, prefix?: string): Promise<ObjectInfo[]> {
    this.lists++;
    this.listedAt.push(Date.now());
    return super.list(bucket, prefix);
  }
}

async function fixture(t: TestContext) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-watch-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const store = new CountingStore(dir);
  const bucketDir = await store.ensureBucket(BUCKET);
  const write = async (key: string, content: string | Buffer): Promise<string> => {
    const file = path.join(bucketDir, ...key.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
    return file;
  };
  return { dir, store, bucketDir, write };
}

/** A watcher whose events are collected; `handler` may throw to simulate a failing ingest. */
function watch(
  store: LocalObjectStore,
  o: { pollMs?: number; settleMs?: number; handler?: (e: ObjectEvent) => Promise<void> } = {},
) {
  const events: ObjectEvent[] = [];
  const calls: ObjectEvent[] = [];
  const watcher = new BucketWatcher(
    store,
    { bucket: BUCKET, pollMs: o.pollMs ?? 50, settleMs: o.settleMs ?? SETTLE },
    async (e) => {
      calls.push(e);
      if (o.handler) await o.handler(e);
      events.push(e);
    },
    log,
  );
  return { watcher, events, calls };
}

test('a settled file emits exactly one object-created CloudEvent, only after settleMs unchanged', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', Buffer.alloc(4096, 1));
  const info = await store.stat(BUCKET, 'clip.mp4');
  assert.ok(info);
  const { watcher, events } = watch(store);

  await watcher.scan(T0);
  assert.equal(events.length, 0, 'first sight: not yet settled');
  await watcher.scan(T0 + SETTLE - 1);
  assert.equal(events.length, 0, 'one millisecond short of settleMs');
  await watcher.scan(T0 + SETTLE);
  assert.equal(events.length, 1, 'unchanged for settleMs: emitted');

  const [e] = events;
  assert.ok(e);
  assert.equal(e.specversion, '1.0');
  assert.equal(e.type, 'io.sluice.object.created');
  assert.equal(e.subject, 'clip.mp4');
  assert.ok(e.id.length > 0);
  assert.ok(e.source.includes(BUCKET));
  assert.deepEqual(e.data, { bucket: BUCKET, key: 'clip.mp4', size: 4096, etag: info.etag });

  for (const later of [SETTLE + 1, 2 * SETTLE, 10 * SETTLE, 100 * SETTLE]) await watcher.scan(T0 + later);
  assert.equal(events.length, 1, 'further scans emit nothing more for the same version');
});

test('a file in a sub-folder is emitted with its full key', async (t) => {
  const { store, write } = await fixture(t);
  await write('a/b/clip.mp4', 'nested');
  const { watcher, events } = watch(store);
  await watcher.scan(T0);
  await watcher.scan(T0 + SETTLE);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.subject, 'a/b/clip.mp4');
  assert.equal(events[0]?.data.key, 'a/b/clip.mp4');
  assert.equal(events[0]?.data.size, 'nested'.length);
});

test('a half-written file is not picked up before the writer closes it (real time, start/stop)', async (t) => {
  const { dir, store, bucketDir } = await fixture(t);
  const seen: { event: ObjectEvent; at: number }[] = [];
  const watcher = new BucketWatcher(
    store,
    { bucket: BUCKET, pollMs: 50, settleMs: 400 },
    async (event) => {
      seen.push({ event, at: Date.now() });
    },
    log,
  );
  t.after(() => watcher.stop());
  watcher.start();

  const chunk = Buffer.alloc(1000, 7);
  const chunks = 10;
  const file = path.join(bucketDir, 'upload.mp4');
  const handle = await fs.open(file, 'w');
  let closedAt: number;
  try {
    for (let i = 0; i < chunks; i++) {
      await handle.appendFile(chunk);
      await sleep(150); // the writer's pace (a slow upload), not a wait for the watcher
    }
  } finally {
    await handle.close();
    closedAt = Date.now();
  }
  const scansWhileWriting = store.lists;
  assert.ok(scansWhileWriting >= 10, `the watcher was polling during the write (${scansWhileWriting} scans)`);
  assert.deepEqual(
    seen.filter((s) => s.at < closedAt),
    [],
    'no event while the file was still being written',
  );

  const first = await waitFor('the event', async () => seen[0], 3_000);
  // Room for a (wrong) second event: a version emitted and then forgotten would be seen anew and emitted
  // again once settled, so wait until the watcher has scanned twice more than settleMs after the event.
  await waitFor('two scans a whole settle period after the event', async () => {
    return store.listedAt.filter((at) => at > first.at + 400).length >= 2;
  });
  await watcher.stop();

  assert.equal(seen.length, 1, 'exactly one event once the file stopped changing');
  const [only] = seen;
  assert.ok(only);
  assert.ok(only.at >= closedAt);
  assert.equal(only.event.data.key, 'upload.mp4');
  assert.equal(only.event.data.size, chunks * chunk.length, 'the event carries the final size');
  assert.equal(only.event.data.etag, (await store.stat(BUCKET, 'upload.mp4'))?.etag);

  // stop() ends polling: a second watcher with the same poll interval, on its own store over the same
  // folder, scans three times meanwhile; the stopped one not once.
  const scansAtStop = store.lists;
  const reference = new CountingStore(dir);
  const { watcher: clock } = watch(reference);
  clock.start();
  await waitFor('three scans of a watcher still running', async () => reference.lists >= 3);
  await clock.stop();
  assert.equal(store.lists, scansAtStop, 'stop() ends polling');
});

test('temp-named files (.hidden, .part, .crdownload) are never emitted', async (t) => {
  const { store, write } = await fixture(t);
  for (const key of ['.hidden.mp4', 'x.mp4.part', 'y.crdownload', 'dir/.also-hidden.mp4', 'ok.mp4']) {
    await write(key, 'data');
  }
  const { watcher, calls } = watch(store);
  for (let i = 0; i <= 5; i++) await watcher.scan(T0 + i * SETTLE);
  assert.deepEqual(
    calls.map((e) => e.data.key),
    ['ok.mp4'],
    'only the normally named file is emitted',
  );
});

test('a rewritten file (new content, new etag) emits a second event', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', 'v1');
  const { watcher, events } = watch(store);
  await watcher.scan(T0);
  await watcher.scan(T0 + SETTLE);
  assert.equal(events.length, 1);

  await write('clip.mp4', 'version two, longer');
  const t1 = T0 + 5 * SETTLE;
  await watcher.scan(t1);
  assert.equal(events.length, 1, 'the new version must settle too');
  await watcher.scan(t1 + SETTLE);
  assert.equal(events.length, 2);
  const [first, second] = events;
  assert.equal(second?.data.key, 'clip.mp4');
  assert.equal(second?.data.size, 'version two, longer'.length);
  assert.notEqual(second?.data.etag, first?.data.etag);
  assert.equal(second?.data.etag, (await store.stat(BUCKET, 'clip.mp4'))?.etag);

  await watcher.scan(t1 + 10 * SETTLE);
  assert.equal(events.length, 2, 'and only once');
});

test('when onEvent throws a plain Error the object is delivered again on a later scan', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', 'data');
  let failures = 1;
  const { watcher, calls, events } = watch(store, {
    handler: async () => {
      if (failures-- > 0) throw new Error('database is busy');
    },
  });
  await watcher.scan(T0);
  await assert.doesNotReject(watcher.scan(T0 + SETTLE), 'a failing handler does not break the scan');
  assert.equal(calls.length, 1);
  assert.equal(events.length, 0);

  for (let now = T0 + SETTLE + 50; now <= T0 + 4 * SETTLE; now += 50) await watcher.scan(now);
  assert.equal(calls.length, 2, 'delivered again, and once more only');
  assert.equal(events.length, 1);
  assert.deepEqual(calls[1]?.data, calls[0]?.data, 'the same object version');
});

test('a retryable SluiceError from onEvent is delivered again as well', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', 'data');
  let failures = 1;
  const { watcher, calls, events } = watch(store, {
    handler: async () => {
      if (failures-- > 0) throw new SluiceError('STORAGE_FAILED', 'disk hiccup');
    },
  });
  for (let now = T0; now <= T0 + 4 * SETTLE; now += 50) await watcher.scan(now);
  assert.equal(calls.length, 2);
  assert.equal(events.length, 1);
});

test('a non-retryable SluiceError from onEvent is not redelivered', async (t) => {
  const { store, write } = await fixture(t);
  await write('clip.mp4', 'data');
  const { watcher, calls } = watch(store, {
    handler: async () => {
      throw new SluiceError('INVALID_TEMPLATE', 'settings file is not valid');
    },
  });
  for (let now = T0; now <= T0 + 10 * SETTLE; now += 100) await watcher.scan(now);
  assert.equal(calls.length, 1);
});

test('a file with an invalid key is skipped without throwing, and does not stop other files', async (t) => {
  const { store, write } = await fixture(t);
  await write('bad\\name.mp4', 'data'); // a backslash is a legal file name character on Linux
  await write('good.mp4', 'data');
  const listed = (await store.list(BUCKET)).map((o) => o.key).sort();
  assert.deepEqual(listed, ['bad\\name.mp4', 'good.mp4'], 'precondition: the file is listed as is');

  const { watcher, calls } = watch(store);
  for (let i = 0; i <= 5; i++) await assert.doesNotReject(watcher.scan(T0 + i * SETTLE));
  assert.deepEqual(
    calls.map((e) => e.data.key),
    ['good.mp4'],
  );
});

// LocalObjectStore

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
