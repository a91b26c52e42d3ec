// The API's bearer token. On loopback the API is open (as a laptop tool should be); listening anywhere
// else, every call but the health check and the Worker API (which has per-attempt tokens) needs it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export const TOKEN_FILE = 'api-token';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The token from `<data-dir>/api-token`, made (mode 0600) on first use; `created` says it is new. */
export async function loadOrCreateToken(dataDir: string): Promise<{ token: string; created: boolean }> {
  const file = path.join(dataDir, TOKEN_FILE);
  const existing = await fs.readFile(file, 'utf8').catch(() => null);
  if (existing?.trim()) return { token: existing.trim(), created: false };
  const token = randomBytes(32).toString('base64url');
  await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(async () => {
    // Another process made it first: use theirs.
  });
  return { token: (await fs.readFile(file, 'utf8')).trim(), created: true };
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
