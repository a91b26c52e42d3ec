// One `sluice serve` (or `sluice demo`) per data directory: two would run the same jobs twice and the
// second would delete the first one's server.json when it stops. The lock is a file holding the owner's
// pid, put in place atomically; a lock whose pid is no longer alive (a server killed with SIGKILL) is taken over.
// The lock also names the owner's host and its process start time (Linux /proc): after a reboot or a long
// time, the pid may belong to an unrelated process, which does not hold the directory.
// On PostgreSQL (SLUICE_DATABASE_URL) several control planes share one data directory (a ReadWriteMany
// volume for the embedded buckets): each takes a lock of its own, `serve.<instance>.lock`. A SQLite server
// still needs the directory to itself, so it refuses while any such lock is held, and they refuse while
// `serve.lock` is.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../errors.ts';

export const LOCK_FILE = 'serve.lock';
const SHARED_LOCK = /^serve\.(.+)\.lock$/;

/** The lock of one control plane among several sharing the data directory (PostgreSQL). */
export function sharedLockFile(instance: string): string {
  return `serve.${instance}.lock`;
}

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

export interface LockOptions {
  /** Share the directory with other control planes (PostgreSQL): this one's instance name. */
  shared?: string;
}

export async function lockDataDir(dataDir: string, o: LockOptions = {}): Promise<DataDirLock> {
  const lock = await take(dataDir, path.join(dataDir, o.shared ? sharedLockFile(o.shared) : LOCK_FILE));
  try {
    if (o.shared) {
      const owner = await ownerOf(path.join(dataDir, LOCK_FILE));
      if (owner !== null && holds(owner)) {
        throw new SluiceError(
          'DATA_DIR_IN_USE',
          `the data directory ${dataDir} is in use by a Sluice server on SQLite (pid ${owner.pid}${owner.host ? ` on ${owner.host}` : ''}); a data directory holds one SQLite server, or control planes sharing one PostgreSQL, never both: stop it, or pass another --data-dir`,
        );
      }
    } else {
      for (const name of await fs.readdir(dataDir).catch(() => [] as string[])) {
        if (name === LOCK_FILE || !SHARED_LOCK.test(name)) continue;
        const owner = await ownerOf(path.join(dataDir, name));
        if (owner !== null && holds(owner)) {
          throw new SluiceError(
            'DATA_DIR_IN_USE',
            `the data directory ${dataDir} is in use by a Sluice server on PostgreSQL (pid ${owner.pid}${owner.host ? ` on ${owner.host}` : ''}, ${name}); stop it, set SLUICE_DATABASE_URL to share its database, or pass another --data-dir${owner.host && owner.host !== os.hostname() ? `; if that host is gone, remove ${path.join(dataDir, name)}` : ''}`,
          );
        }
      }
    }
  } catch (err) {
    await lock.release();
    throw err;
  }
  return lock;
}

async function take(dataDir: string, file: string): Promise<DataDirLock> {
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
