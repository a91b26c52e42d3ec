// One `sluice serve` (or `sluice demo`) per data directory: two would run the same jobs twice and the
// second would delete the first one's server.json when it stops. The lock is a file holding the owner's
// pid, put in place atomically; a lock whose pid is no longer alive (a server killed with SIGKILL) is taken over.
// The lock also names the owner's host and its process start time (Linux /proc): after a reboot or a long
// time, the pid may belong to an unrelated process, which does not hold the directory.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
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

/** When the process started, in clock ticks since boot (field 22 of /proc/PID/stat); null off Linux. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

interface Owner {
  pid: number;
  host?: string;
  start?: string | null;
}

async function ownerOf(file: string): Promise<Owner | null> {
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const o = JSON.parse(text) as { pid?: unknown; host?: unknown; start?: unknown };
    if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return null;
    return {
      pid: o.pid,
      host: typeof o.host === 'string' ? o.host : undefined,
      start: typeof o.start === 'string' ? o.start : null,
    };
  } catch {
    return null; // half-written or foreign: no live owner can be named
  }
}

/** Whether the lock's owner still runs: its pid is alive and, where both are known, started when it said. */
function holds(owner: Owner): boolean {
  // Another host's process cannot be checked from here (a data directory on a shared volume).
  if (owner.host !== undefined && owner.host !== os.hostname()) return true;
  if (!alive(owner.pid)) return false;
  const now = processStart(owner.pid);
  return !(owner.start && now && owner.start !== now);
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, LOCK_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname(), start: processStart(process.pid) });
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
          if ((await ownerOf(file))?.pid === process.pid) await fs.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await fs.rm(draft, { force: true });
    }
    const owner = await ownerOf(file);
    if (owner !== null && holds(owner)) {
      const elsewhere = owner.host !== undefined && owner.host !== os.hostname();
      throw new SluiceError(
        'DATA_DIR_IN_USE',
        elsewhere
          ? `the data directory ${dataDir} is in use by a Sluice server on host ${owner.host} (pid ${owner.pid}); stop it there, or if that host is gone remove ${file}, or pass another --data-dir`
          : `the data directory ${dataDir} is in use by another Sluice server (pid ${owner.pid}); stop it first (kill -TERM ${owner.pid}) or pass another --data-dir`,
      );
    }
    await fs.rm(file, { force: true });
  }
  throw new SluiceError(
    'DATA_DIR_IN_USE',
    `could not take the lock ${file}: other Sluice servers keep starting on this data directory`,
  );
}
