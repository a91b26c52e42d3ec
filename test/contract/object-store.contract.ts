// The ObjectStore contract: what ingest, the worker and publishing rely on from any bucket store. Run
// against the local folders today (local-object-store.test.ts); an S3-compatible store must pass the same
// cases against a real S3-protocol server.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';

type T = { after: (fn: () => Promise<void>) => void };

export interface ObjectStoreHarness {
  /** A store with buckets `source` and `destination`, empty. */
  open(t: T): Promise<ObjectStore>;
}

const body = (s: string) => Readable.from([Buffer.from(s)]);

function failing(afterBytes: string): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.from(afterBytes));
      } else this.destroy(new Error('the client went away'));
    },
  });
}

async function scratch(t: T): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-objects-contract-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const code = (c: string) => (e: unknown) => e instanceof SluiceError && e.code === c;

export function objectStoreContract(name: string, h: ObjectStoreHarness): void {
  test(`${name}: put, stat and read give back the bytes; a missing object is null / OBJECT_NOT_FOUND`, async (t) => {
    const s = await h.open(t);
    const info = await s.put('source', 'a/b/talk.mp4', body('hello world'));
    assert.equal(info.size, 11);
    assert.equal(info.key, 'a/b/talk.mp4');
    const st = await s.stat('source', 'a/b/talk.mp4');
    assert.equal(st?.size, 11);
    assert.equal(st?.etag, info.etag);
    assert.ok(!Number.isNaN(Date.parse(st?.lastModified ?? '')));
    assert.equal((await s.read('source', 'a/b/talk.mp4', 100)).toString(), 'hello world');
    assert.equal(await s.stat('source', 'nope.mp4'), null);
    await assert.rejects(s.read('source', 'nope.mp4', 100), code('OBJECT_NOT_FOUND'));
  });

  test(`${name}: a new version of a key gets a new etag; read refuses more than maxBytes`, async (t) => {
    const s = await h.open(t);
    const first = await s.put('source', 'v.json', body('{"a":1}'));
    const second = await s.put('source', 'v.json', body('{"a":22}'));
    assert.notEqual(first.etag, second.etag);
    // The same size, at once: still a new version (a re-upload must make a new job).
    const third = await s.put('source', 'v.json', body('{"a":33}'));
    assert.notEqual(third.etag, second.etag, 'same size, same moment, new bytes: a new etag');
    assert.equal((await s.read('source', 'v.json', 100)).toString(), '{"a":33}');
    await assert.rejects(s.read('source', 'v.json', 3));
  });

  test(`${name}: a put whose body fails or is short stores nothing and leaves the old object whole`, async (t) => {
    const s = await h.open(t);
    await s.put('source', 'keep.mp4', body('the old bytes'));
    await assert.rejects(s.put('source', 'keep.mp4', failing('partial')));
    assert.equal((await s.read('source', 'keep.mp4', 100)).toString(), 'the old bytes');
    await assert.rejects(
      s.put('source', 'keep.mp4', body('short'), { expectedBytes: 10 }),
      code('UPLOAD_INCOMPLETE'),
    );
    await assert.rejects(s.put('source', 'new.mp4', body(''), { minBytes: 1 }), code('INPUT_EMPTY'));
    assert.equal((await s.read('source', 'keep.mp4', 100)).toString(), 'the old bytes');
    assert.equal(await s.stat('source', 'new.mp4'), null);
    assert.deepEqual(
      (await s.list('source')).map((o) => o.key),
      ['keep.mp4'],
      'no partial or temporary object is listed',
    );
  });

  test(`${name}: list finds every object under a prefix, and only those`, async (t) => {
    const s = await h.open(t);
    for (const k of ['x/1.mp4', 'x/y/2.mp4', 'xy/3.mp4', 'z.mp4']) await s.put('destination', k, body(k));
    const keys = async (prefix?: string) => (await s.list('destination', prefix)).map((o) => o.key).sort();
    assert.deepEqual(await keys(), ['x/1.mp4', 'x/y/2.mp4', 'xy/3.mp4', 'z.mp4']);
    assert.deepEqual(await keys('x/'), ['x/1.mp4', 'x/y/2.mp4']);
    assert.deepEqual(await keys('nothing/'), []);
    assert.deepEqual(await keys(), (await s.list('destination')).map((o) => o.key).sort());
  });

  test(`${name}: openRead streams the whole object or an inclusive range`, async (t) => {
    const s = await h.open(t);
    await s.put('source', 'r.bin', body('0123456789'));
    const whole = await s.openRead('source', 'r.bin');
    assert.equal(whole.info.size, 10);
    assert.equal(await text(whole.stream), '0123456789');
    assert.equal(await text((await s.openRead('source', 'r.bin', { start: 2, end: 5 })).stream), '2345');
    assert.equal(await text((await s.openRead('source', 'r.bin', { start: 7 })).stream), '789');
    await assert.rejects(s.openRead('source', 'missing.bin'), code('OBJECT_NOT_FOUND'));
  });

  test(`${name}: download and upload copy whole files; upload with move gives the file up`, async (t) => {
    const s = await h.open(t);
    const dir = await scratch(t);
    await s.put('source', 'in.mp4', body('input bytes'));
    const local = path.join(dir, 'in.mp4');
    await s.download('source', 'in.mp4', local);
    assert.equal(await fs.readFile(local, 'utf8'), 'input bytes');
    const out = path.join(dir, 'out.m4s');
    await fs.writeFile(out, 'segment');
    const info = await s.upload('destination', 'set/v/1/out.m4s', out);
    assert.equal(info.size, 7);
    assert.equal(await fs.readFile(out, 'utf8'), 'segment', 'a plain upload leaves the file');
    await s.upload('destination', 'set/v/1/moved.m4s', out, { move: true });
    assert.equal((await s.read('destination', 'set/v/1/moved.m4s', 100)).toString(), 'segment');
  });

  test(`${name}: move renames within a bucket; remove and removePrefix delete, a missing one is no error`, async (t) => {
    const s = await h.open(t);
    await s.put('destination', 'set/master.m3u8.tmp', body('#EXTM3U'));
    await s.move('destination', 'set/master.m3u8.tmp', 'set/master.m3u8');
    assert.equal(await s.stat('destination', 'set/master.m3u8.tmp'), null);
    assert.equal((await s.read('destination', 'set/master.m3u8', 100)).toString(), '#EXTM3U');
    for (const k of ['set/v/a/1.m4s', 'set/v/a/2.m4s', 'set/v/b/1.m4s'])
      await s.put('destination', k, body(k));
    await s.removePrefix('destination', 'set/v/a/');
    assert.deepEqual(
      (await s.list('destination', 'set/v/')).map((o) => o.key),
      ['set/v/b/1.m4s'],
    );
    await s.remove('destination', 'set/master.m3u8');
    await s.remove('destination', 'set/master.m3u8');
    await s.removePrefix('destination', 'never/');
    assert.deepEqual(
      (await s.list('destination')).map((o) => o.key),
      ['set/v/b/1.m4s'],
    );
  });

  test(`${name}: hostile keys are refused before anything is read or written (INVALID_OBJECT_KEY)`, async (t) => {
    const s = await h.open(t);
    for (const key of ['../escape.mp4', 'a/../../b.mp4', '/abs.mp4', 'a//b.mp4', 'nul\u0000.mp4', '']) {
      await assert.rejects(s.put('source', key, body('x')), code('INVALID_OBJECT_KEY'), JSON.stringify(key));
      await assert.rejects(s.stat('source', key), code('INVALID_OBJECT_KEY'), JSON.stringify(key));
    }
    assert.deepEqual(await s.list('source'), []);
  });

  test(`${name}: concurrent puts of one key end with one whole version, never a mix`, async (t) => {
    const s = await h.open(t);
    const versions = ['a'.repeat(50_000), 'b'.repeat(60_000), 'c'.repeat(70_000)];
    await Promise.all(versions.map((v) => s.put('source', 'race.mp4', body(v))));
    const final = (await s.read('source', 'race.mp4', 100_000)).toString();
    assert.ok(versions.includes(final), `one whole version (${final.length} bytes, starts ${final[0]})`);
    assert.equal((await s.stat('source', 'race.mp4'))?.size, final.length);
  });
}
