// Which control plane runs the singleton loops (lease expiry, inheriting attempts left running,
// retention): one replica at a time among those sharing a job store. Claims need no leader (the store
// hands each job to one claimer); these loops are not unsafe twice over (every write is fenced by the
// lease), but inheriting the same attempts from two places, or both purging, is wrong and wasteful.
// SQLite serves one process per data directory (the data-directory lock): that process always leads.
import os from 'node:os';

export interface Leadership {
  /** Whether this process leads now; re-checked by the scheduler on every tick. Never throws. */
  isLeader(): Promise<boolean>;
  /** Gives leadership up (a survivor takes it on its next check). */
  close(): Promise<void>;
}

/** The one process of a data directory (SQLite): always the leader. */
export class SoleLeader implements Leadership {
  async isLeader(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

/**
 * This control plane's name among its replicas: host name and pid (in a container the pid is 1 and the
 * host name is the pod's). Shown by GET /v1/health, in the leadership log lines and the data-dir lock.
 */
export function instanceId(): string {
  return `${os.hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_');
}
