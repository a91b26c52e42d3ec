// The ledger of seen object versions (ingest/seen-objects.ts) as a contract every job store passes,
// registered from the SQLite and PostgreSQL contract files: per bucket, one version per key, kept across
// a reopen, forgotten in bulk (more keys than one DELETE chunk), concurrent writers of one key leave one row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoreFactory } from './job-store.contract.ts';

const T0 = new Date('2024-05-01T12:00:00.000Z');

export function seenObjectsContract(name: string, factory: StoreFactory): void {
  test(`${name} seen objects: a version per key and bucket; a new version replaces the old, in one row`, async (t) => {
    const { store } = await factory.open(t);
    assert.deepEqual(await store.seenObjects('source'), new Map());
    assert.equal(await store.seenVersion('source', 'a.mp4'), null);
    await store.markSeen('source', 'a.mp4', 'e1', T0);
    await store.markSeen('source', 'dir/b.mp4', 'e2', T0);
    await store.markSeen('other', 'a.mp4', 'x9', T0);
    await store.markSeen('source', 'a.mp4', 'e3', T0); // a new version of a.mp4
    assert.equal(await store.seenVersion('source', 'a.mp4'), 'e3');
    assert.equal(await store.seenVersion('other', 'a.mp4'), 'x9');
    assert.equal(await store.seenVersion('source', 'A.mp4'), null, 'keys are case-sensitive');
    assert.deepEqual(
      await store.seenObjects('source'),
      new Map([
        ['a.mp4', 'e3'],
        ['dir/b.mp4', 'e2'],
      ]),
    );
  });

  test(`${name} seen objects: keys with quotes, %, _, unicode and spaces are kept and matched exactly`, async (t) => {
    const { store } = await factory.open(t);
    const keys = ["it's.mp4", '100%_done.mp4', 'a_b.mp4', 'axb.mp4', 'été/ünï cödé.mp4', 'x y.mp4'];
    for (const [i, key] of keys.entries()) await store.markSeen('source', key, `e${i}`, T0);
    assert.deepEqual(await store.seenObjects('source'), new Map(keys.map((k, i) => [k, `e${i}`])));
    // LIKE wildcards must not match: only a_b.mp4 goes, axb.mp4 stays.
    assert.equal(await store.forgetSeen('source', ['a_b.mp4', 'missing.mp4']), 1);
    assert.equal(await store.seenVersion('source', 'axb.mp4'), 'e3');
    assert.equal(await store.seenVersion('source', 'a_b.mp4'), null);
  });

  test(`${name} seen objects: forgetting 1,100 of 1,200 keys (several DELETE chunks) leaves the other 100, and other buckets`, async (t) => {
    const { store } = await factory.open(t);
    const keys = Array.from({ length: 1200 }, (_, i) => `inputs/clip-${String(i).padStart(4, '0')}.mp4`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => store.markSeen('source', k, `v-${k}`, T0)));
    }
    await store.markSeen('other', keys[0] as string, 'kept', T0);
    assert.equal((await store.seenObjects('source')).size, 1200);
    assert.equal(await store.forgetSeen('source', keys.slice(100)), 1100);
    const left = await store.seenObjects('source');
    assert.deepEqual([...left.keys()].sort(), keys.slice(0, 100));
    assert.equal(await store.seenVersion('other', keys[0] as string), 'kept');
    assert.equal(await store.forgetSeen('source', []), 0);
  });

  test(`${name} seen objects: kept across a reopen, and two writers of one key leave one row`, async (t) => {
    const db = await factory.open(t);
    await db.store.markSeen('source', 'a.mp4', 'e1', T0);
    const reopened = await db.peer({ migrate: false });
    assert.equal(await reopened.seenVersion('source', 'a.mp4'), 'e1');
    const other = await db.peer();
    await Promise.all([
      db.store.markSeen('source', 'b.mp4', 'from-one', T0),
      other.markSeen('source', 'b.mp4', 'from-two', T0),
      db.store.markSeen('source', 'b.mp4', 'from-one', T0),
      other.markSeen('source', 'b.mp4', 'from-two', T0),
    ]);
    const seen = await db.store.seenObjects('source');
    assert.equal(seen.size, 2);
    assert.ok(['from-one', 'from-two'].includes(seen.get('b.mp4') as string));
  });
}
