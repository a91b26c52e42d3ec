// The local object store never follows a symbolic link inside a bucket: not when listing, reading,
// downloading, writing, moving or removing; every link it meets is refused or skipped, and logged.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { SluiceError } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { tempDir } from '../helpers.ts';

/** A store whose log lines are kept, and a folder outside the data directory with a secret in it. */
async function setup(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  const outside = await tempDir(t, 'sluice-outside-');
  await fs.writeFile(path.join(outside, 'secret.mp4'), 'outside bytes');
  await fs.writeFile(path.join(outside, 'settings.json'), '{"ladder":[]}');
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const objects = new LocalObjectStore(dataDir, log);
  const source = await objects.ensureBucket('source');
  await objects.ensureBucket('destination');
  const destination = path.join(dataDir, 'buckets', 'destination');
  await fs.writeFile(path.join(source, 'real.mp4'), 'inside bytes');
  const skipped = () => lines.filter((l) => String(l.msg).includes('symbolic link'));
  return { dataDir, outside, objects, source, destination, lines, skipped };
}

const refused = (err: unknown) => err instanceof SluiceError && err.code === 'SYMLINK_REFUSED';

/** Every file under a folder, relative, without following links (what actually landed there). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) for (const f of await filesUnder(p)) out.push(path.join(e.name, f));
    else out.push(e.name);
  }
  return out.sort();
}

test('list skips a link to a file outside, a link to a folder outside and `ln -s . loop`, and logs each once', async (t) => {
  const { outside, objects, source, skipped } = await setup(t);
  await fs.symlink(path.join(outside, 'secret.mp4'), path.join(source, 'file-link.mp4'));
  await fs.symlink(outside, path.join(source, 'dir-link'));
  await fs.symlink('.', path.join(source, 'loop'));
  await fs.mkdir(path.join(source, 'sub'));
  await fs.writeFile(path.join(source, 'sub', 'deep.mp4'), 'deep');
  await fs.symlink('..', path.join(source, 'sub', 'up'));

  const keys = (await objects.list('source')).map((o) => o.key).sort();
  assert.deepEqual(keys, ['real.mp4', 'sub/deep.mp4']);
  assert.deepEqual(
    skipped()
      .map((l) => l.key)
      .sort(),
    ['dir-link', 'file-link.mp4', 'loop', 'sub/up'],
    'each skipped link is named in the log',
  );
  for (const l of skipped()) assert.equal(l.bucket, 'source');
  // The watcher lists every poll: the same links are not logged again and again.
  await objects.list('source');
  assert.equal(skipped().length, 4);
  // A prefix listing walks the same way.
  assert.deepEqual(
    (await objects.list('source', 'dir-link/')).map((o) => o.key),
    [],
    'nothing is listed through a linked folder',
  );
});

test('stat, read and download refuse a link, and a path through a linked folder, with SYMLINK_REFUSED', async (t) => {
  const { dataDir, outside, objects, source, skipped } = await setup(t);
  await fs.symlink(path.join(outside, 'secret.mp4'), path.join(source, 'file-link.mp4'));
  await fs.symlink(outside, path.join(source, 'dir-link'));
  const work = await objects.workDir('t-');
  for (const key of ['file-link.mp4', 'dir-link/secret.mp4']) {
    await assert.rejects(objects.stat('source', key), refused, `stat ${key}`);
    await assert.rejects(objects.read('source', key, 1000), refused, `read ${key}`);
    const to = path.join(work, `in-${key.replace('/', '_')}`);
    await assert.rejects(objects.download('source', key, to), refused, `download ${key}`);
    assert.equal(await fs.lstat(to).catch(() => null), null, `download ${key} left nothing behind`);
  }
  await assert.rejects(objects.read('source', 'dir-link/settings.json', 1000), refused);
  assert.ok(skipped().length >= 7, 'each refusal is logged');
  // The real object still works, through a data directory that is itself reached through a link.
  const linkedDataDir = `${dataDir}-link`;
  await fs.symlink(dataDir, linkedDataDir);
  t.after(() => fs.rm(linkedDataDir, { force: true }));
  const viaLink = new LocalObjectStore(linkedDataDir);
  assert.equal((await viaLink.stat('source', 'real.mp4'))?.size, 'inside bytes'.length);
  assert.equal((await viaLink.read('source', 'real.mp4', 1000)).toString(), 'inside bytes');
  await viaLink.download('source', 'real.mp4', path.join(work, 'real'));
  assert.equal(await fs.readFile(path.join(work, 'real'), 'utf8'), 'inside bytes');
});

test('download never hands over a link: the copy is a regular file with the object bytes', async (t) => {
  const { objects } = await setup(t);
  const work = await objects.workDir('t-');
  const to = path.join(work, 'input.mp4');
  await objects.download('source', 'real.mp4', to);
  const st = await fs.lstat(to);
  assert.ok(st.isFile() && !st.isSymbolicLink());
  assert.equal(await fs.readFile(to, 'utf8'), 'inside bytes');
});

test('put and upload refuse to write through a linked folder; nothing lands outside', async (t) => {
  const { outside, objects, source, destination, skipped } = await setup(t);
  await fs.symlink(outside, path.join(source, 'dir-link'));
  await fs.symlink(outside, path.join(destination, 'clip'));
  await assert.rejects(objects.put('source', 'dir-link/x.mp4', Readable.from(['evil'])), refused);
  await assert.rejects(objects.put('source', 'dir-link/deeper/x.mp4', Readable.from(['evil'])), refused);
  const work = await objects.workDir('t-');
  const file = path.join(work, 'master.m3u8');
  await fs.writeFile(file, '#EXTM3U');
  await assert.rejects(objects.upload('destination', 'clip/master.m3u8', file), refused);
  await assert.rejects(objects.upload('destination', 'clip/master.m3u8', file, { move: true }), refused);
  assert.deepEqual(await filesUnder(outside), ['secret.mp4', 'settings.json'], 'nothing written outside');
  // A link where the object itself would go is not written through either.
  await fs.symlink(path.join(outside, 'secret.mp4'), path.join(source, 'victim.mp4'));
  await assert.rejects(objects.put('source', 'victim.mp4', Readable.from(['evil'])), refused);
  assert.equal(await fs.readFile(path.join(outside, 'secret.mp4'), 'utf8'), 'outside bytes');
  // A worker file that is a link is not copied in (it would copy what it points to).
  const linkFile = path.join(work, 'link.m4s');
  await fs.symlink(path.join(outside, 'secret.mp4'), linkFile);
  await assert.rejects(objects.upload('destination', 'other/link.m4s', linkFile), refused);
  assert.equal(await objects.stat('destination', 'other/link.m4s'), null);
  assert.ok(skipped().length >= 6);
});

test('move and removePrefix do not act through a link', async (t) => {
  const { outside, objects, destination } = await setup(t);
  await objects.put('destination', '.staging/job_1/1/clip/master.m3u8', Readable.from(['#EXTM3U']));
  await fs.symlink(outside, path.join(destination, 'clip'));
  await assert.rejects(
    objects.move('destination', '.staging/job_1/1/clip/master.m3u8', 'clip/master.m3u8'),
    refused,
  );
  await fs.symlink(path.join(outside, 'secret.mp4'), path.join(destination, 'src-link.mp4'));
  await assert.rejects(objects.move('destination', 'src-link.mp4', 'moved.mp4'), refused);
  assert.equal(await fs.lstat(path.join(destination, 'moved.mp4')).catch(() => null), null);
  await assert.rejects(objects.removePrefix('destination', 'clip/'), refused);
  await fs.mkdir(path.join(outside, 'sub'));
  await fs.writeFile(path.join(outside, 'sub', 'keep.txt'), 'keep');
  await assert.rejects(objects.removePrefix('destination', 'clip/sub'), refused);
  assert.deepEqual(await filesUnder(outside), ['secret.mp4', 'settings.json', 'sub/keep.txt']);
  // A folder holding a link is removed without touching what the link points to.
  await fs.mkdir(path.join(destination, 'old'));
  await fs.symlink(outside, path.join(destination, 'old', 'inner-link'));
  await objects.removePrefix('destination', 'old/');
  assert.equal(await fs.lstat(path.join(destination, 'old')).catch(() => null), null);
  assert.deepEqual(await filesUnder(outside), ['secret.mp4', 'settings.json', 'sub/keep.txt']);
});

test('workDir and temp files refuse a linked tmp folder', async (t) => {
  const { dataDir, outside, objects } = await setup(t);
  await fs.rm(path.join(dataDir, 'tmp'), { recursive: true, force: true });
  await fs.symlink(outside, path.join(dataDir, 'tmp'));
  await assert.rejects(objects.workDir('w-'), refused);
  await assert.rejects(objects.put('source', 'new.mp4', Readable.from(['x'])), refused);
  assert.deepEqual(await filesUnder(outside), ['secret.mp4', 'settings.json']);
});

test('the constructor still takes only the data directory', async (t) => {
  const dir = await tempDir(t);
  const objects = new LocalObjectStore(dir);
  await objects.ensureBucket('source');
  await objects.put('source', 'a/b.mp4', Readable.from(['x']));
  assert.deepEqual(
    (await objects.list('source')).map((o) => o.key),
    ['a/b.mp4'],
  );
});
