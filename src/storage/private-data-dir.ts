// The data directory holds other people's media, the API token and the job database: the owner's only.
// `serve` and `worker` run with umask 077, so every file and folder they (and the ffmpeg they start)
// make in it is 0600 / 0700; a data directory left looser by an older Sluice is tightened, with a warning.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

/** Group and others get nothing on whatever a Sluice process creates. */
export const PRIVATE_UMASK = 0o077;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** Files an older Sluice may have left readable by others; the database is tightened by its store. */
const SECRET_FILES = ['api-token', 'server.json'];

/** For the `serve` and `worker` processes (not in-process tests: the umask is process-wide). */
export function usePrivateUmask(): void {
  process.umask(PRIVATE_UMASK);
}

export async function securePrivateDataDir(dataDir: string, log: Logger): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: DIR_MODE });
  await tighten(dataDir, DIR_MODE, log, 'data directory');
  for (const name of SECRET_FILES) await tighten(path.join(dataDir, name), FILE_MODE, log, name);
}

async function tighten(p: string, mode: number, log: Logger, what: string): Promise<void> {
  const st = await fs.stat(p).catch(() => null);
  if (!st || (st.mode & 0o077) === 0) return;
  await fs.chmod(p, mode);
  log.warn(
    { path: p, was: (st.mode & 0o777).toString(8), now: mode.toString(8) },
    `${what} was open to other users of this machine; made it owner-only`,
  );
}
