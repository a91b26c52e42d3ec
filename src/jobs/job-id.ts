import { randomBytes } from 'node:crypto';

/** Time-ordered, URL-safe job ids: `job_` + 10 chars of milliseconds + 12 random chars (base32). */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newJobId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rand = [...randomBytes(12)].map((b) => ALPHABET[b % 32]).join('');
  return `job_${time}${rand}`;
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}
