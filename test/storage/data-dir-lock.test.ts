// The data-directory lock: SQLite servers hold the directory alone; control planes on PostgreSQL share it,
// each under a lock of its own, and the two kinds refuse each other. Real files, this process's pid.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { LOCK_FILE, lockDataDir, sharedLockFile } from '../../src/storage/data-dir-lock.ts';
import { tempDir } from '../helpers.ts';

const inUse = (err: unknown) => err instanceof SluiceError && err.code === 'DATA_DIR_IN_USE';

test('control planes on PostgreSQL share a data directory, each with its own lock', async (t) => {
  const dir = await tempDir(t);
  const a = await lockDataDir(dir, { shared: 'host-1' });
  const b = await lockDataDir(dir, { shared: 'host-2' });
  assert.deepEqual((await fs.readdir(dir)).sort(), [sharedLockFile('host-1'), sharedLockFile('host-2')]);
  // The same instance twice is one too many.
  await assert.rejects(lockDataDir(dir, { shared: 'host-1' }), inUse);
  await a.release();
  assert.deepEqual(await fs.readdir(dir), [sharedLockFile('host-2')], 'only its own lock removed');
  await b.release();
  assert.deepEqual(await fs.readdir(dir), []);
});

test('a SQLite server refuses a directory PostgreSQL control planes hold, and they refuse one it holds', async (t) => {
  const dir = await tempDir(t);
  const shared = await lockDataDir(dir, { shared: 'pg-1' });
  await assert.rejects(lockDataDir(dir), (err) => inUse(err) && /PostgreSQL/.test((err as Error).message));
  assert.deepEqual(await fs.readdir(dir), [sharedLockFile('pg-1')], 'the refused one left nothing behind');
  await shared.release();
  const alone = await lockDataDir(dir);
  await assert.rejects(
    lockDataDir(dir, { shared: 'pg-2' }),
    (err) => inUse(err) && /SQLite/.test((err as Error).message),
  );
  assert.deepEqual(await fs.readdir(dir), [LOCK_FILE]);
  // And a second SQLite server, as always.
  await assert.rejects(lockDataDir(dir), inUse);
  await alone.release();
});

test('the lock of a control plane that died (its pid gone) does not hold the directory', async (t) => {
  const dir = await tempDir(t);
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  await fs.writeFile(
    path.join(dir, sharedLockFile('gone')),
    JSON.stringify({ pid: dead, host: os.hostname(), start: null }),
  );
  const alone = await lockDataDir(dir);
  await alone.release();
  const again = await lockDataDir(dir, { shared: 'gone' });
  await again.release();
});
