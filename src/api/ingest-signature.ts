// HMAC signatures of event deliveries, for senders that can sign (a webhook relay, a function):
//   X-Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>
// The timestamp is signed with the body and must be within 5 minutes of the server's clock, so a
// captured request cannot be replayed later. Several v1= entries may be given (a secret being rotated).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { SluiceError } from '../errors.ts';

export const SIGNATURE_HEADER = 'x-sluice-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signDelivery(secret: string, body: Buffer | string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

function refuse(message: string): never {
  throw new SluiceError('INGEST_SIGNATURE_INVALID', message);
}

/** Throws INGEST_SIGNATURE_INVALID unless `header` signs `body` with `secret`, recently. */
export function verifyDelivery(secret: string, header: string, body: Buffer, nowMs = Date.now()): void {
  let t: number | null = null;
  const macs: string[] = [];
  for (const part of header.split(',')) {
    const [k, v = ''] = part.trim().split('=', 2);
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/i.test(v)) macs.push(v.toLowerCase());
  }
  if (t === null || macs.length === 0) {
    refuse(`${SIGNATURE_HEADER} must be "t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>"`);
  }
  const skew = Math.abs(nowMs / 1000 - t);
  if (skew > SIGNATURE_TOLERANCE_SECONDS) {
    refuse(
      `${SIGNATURE_HEADER} timestamp is ${Math.round(skew)} s away from the server's clock (at most ${SIGNATURE_TOLERANCE_SECONDS} s): a replay, or a clock to fix`,
    );
  }
  const expected = Buffer.from(signDelivery(secret, body, t).split('v1=')[1] as string, 'hex');
  const ok = macs.some((m) => {
    const given = Buffer.from(m, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!ok) refuse(`${SIGNATURE_HEADER} does not match the body: wrong secret, or the body was altered`);
}
