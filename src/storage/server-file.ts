// `<data-dir>/server.json`: where the CLI finds a running server ({ url, pid, instance }). Control planes
// sharing a data directory (PostgreSQL) each write it, the last one wins, and each removes it at stop only
// if it is still its own: a replica that stops must not leave the CLI without the one still running.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SERVER_FILE } from '../config/defaults.ts';

export interface ServerFile {
  /** Removes the file if it still names this server. */
  remove(): Promise<void>;
}

export async function writeServerFile(
  dataDir: string,
  info: { url: string; pid: number; instance: string },
): Promise<ServerFile> {
  const file = path.join(dataDir, SERVER_FILE);
  await fs.writeFile(file, JSON.stringify(info), { mode: 0o600 });
  await fs.chmod(file, 0o600); // mode applies only when the file is new
  return {
    async remove() {
      const text = await fs.readFile(file, 'utf8').catch(() => null);
      if (text === null) return;
      let owner: unknown;
      try {
        owner = (JSON.parse(text) as { instance?: unknown }).instance;
      } catch {
        owner = undefined; // half-written or foreign: no other server can be named, so not kept
      }
      if (owner === undefined || owner === info.instance) await fs.rm(file, { force: true });
    },
  };
}
