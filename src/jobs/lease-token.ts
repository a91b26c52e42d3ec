// Lease tokens at rest: the job store keeps only the SHA-256 of an attempt's token, so whoever reads the
// database (a backup, a stray copy, a local user) learns nothing the Worker API accepts. The worker
// keeps the plain token; every report is fenced by hashing what it presents and comparing in constant
// time. A token is 24 random bytes, so a plain hash (no salt, no stretching) is enough.
import { createHash, timingSafeEqual } from 'node:crypto';

export function hashLeaseToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Whether `token` is the one whose hash is `hash`; constant-time on the (fixed-length) hashes. */
export function leaseTokenMatches(hash: string | null, token: string | null): boolean {
  if (hash === null || token === null) return false;
  return leaseHashesEqual(hash, hashLeaseToken(token));
}

export function leaseHashesEqual(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return false;
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
