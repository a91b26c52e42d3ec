// One `sluice serve` (or `sluice demo`) per data directory: two would run the same jobs twice and the
// second would delete the first one's server.json when it stops. The lock is a file holding the owner's
// pid, put in place atomically; a lock whose pid is no longer alive (a server killed with SIGKILL) is taken over.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';

export const LOCK_FILE = 'serve.lock';

export interface DataDirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ownerOf(file: string): Promise<number | null> {
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // half-written or foreign: no live owner can be named
  }
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid });
  // A few rounds: a stale lock is removed and the exclusive create retried; should two starts race for
  // the same stale lock, the loser finds the winner's live pid on its next round.
  for (let round = 0; round < 5; round++) {
    // Written whole to a private name, then hard-linked into place: the link fails if a lock exists,
    // and a lock that exists always holds its pid (never a half-written file another start would
    // mistake for a stale one).
    const draft = `${file}.${process.pid}.${round}`;
    await fs.writeFile(draft, mine, { mode: 0o600 });
    try {
      await fs.link(draft, file);
      return {
        async release() {
          // Only our own lock: never one a later server took over.
          if ((await ownerOf(file)) === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await fs.rm(draft, { force: true });
    }
    const owner = await ownerOf(file);
    if (owner !== null && alive(owner)) {
      throw new SluiceError(
        'DATA_DIR_IN_USE',
        `the data directory ${dataDir} is in use by another Sluice server (pid ${owner}); stop it first (kill -TERM ${owner}) or pass another --data-dir`,
      );
    }
    await fs.rm(file, { force: true });
  }
  throw new SluiceError(
    'DATA_DIR_IN_USE',
    `could not take the lock ${file}: other Sluice servers keep starting on this data directory`,
  );
}
