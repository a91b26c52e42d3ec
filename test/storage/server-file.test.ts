// server.json among replicas sharing a data directory: the last writer's is kept, and a replica that
// stops removes it only if it is still its own.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { writeServerFile } from '../../src/storage/server-file.ts';
import { tempDir } from '../helpers.ts';

test('a replica that stops leaves the server.json another wrote since; its own is removed', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'server.json');
  const a = await writeServerFile(dir, { url: 'http://a', pid: 1, instance: 'a' });
  const b = await writeServerFile(dir, { url: 'http://b', pid: 2, instance: 'b' });
  await a.remove();
  assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { url: 'http://b', pid: 2, instance: 'b' });
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  await b.remove();
  assert.equal(await fs.stat(file).catch(() => null), null);
  await b.remove(); // already gone: nothing to do
});
