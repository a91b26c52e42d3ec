// One webhook attempt on the wire: a POST of the signed body to the subscription's URL and what came back,
// over node:http(s) so the socket connects only to an address the SSRF guard checked (webhook-target.ts).
// Redirects are never followed (a 3xx is the answer), the whole attempt has one deadline, and at most a
// few KB of the answer are read, for the delivery log; nothing in it is trusted or acted on beyond the
// status and Retry-After.
import http from 'node:http';
import https from 'node:https';
import { SluiceError } from '../errors.ts';
import { checkAttemptTarget, guardedLookup } from './webhook-target.ts';

/** Bytes of a receiver's answer kept for the delivery log. */
export const RESPONSE_BYTES_KEPT = 4096;

export interface PostOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

export interface PostAnswer {
  statusCode: number;
  retryAfter: string | null;
  /** The start of the answer's body, as text. */
  body: string;
}

/** POSTs `body` with `headers`; resolves with the answer (any status), rejects on no answer (refused, timeout). */
export function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  o: PostOptions,
): Promise<PostAnswer> {
  const u = new URL(url);
  checkAttemptTarget(u, o.allowPrivate);
  const signal = AbortSignal.timeout(o.timeoutMs);
  const client = u.protocol === 'https:' ? https : http;
  return new Promise<PostAnswer>((resolve, reject) => {
    const req = client.request(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(o.allowPrivate) as never,
        // A connection per attempt: a pooled socket could have been opened without this lookup.
        agent: false,
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let finished = false;
        const done = () => {
          if (finished) return;
          finished = true;
          resolve({
            statusCode: res.statusCode ?? 0,
            retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null,
            body: Buffer.concat(chunks).toString('utf8'),
          });
          // The rest of the answer is not wanted: close rather than read a large or endless body.
          req.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (kept >= RESPONSE_BYTES_KEPT) return;
          chunks.push(chunk.subarray(0, RESPONSE_BYTES_KEPT - kept));
          kept += Math.min(chunk.length, RESPONSE_BYTES_KEPT - kept);
          if (kept >= RESPONSE_BYTES_KEPT) done();
        });
        res.on('end', done);
        // Cut off mid-body (the deadline, a reset): the status is known, which is what counts.
        res.on('error', done);
        res.on('aborted', done);
      },
    );
    req.on('error', (err) => {
      if (err instanceof SluiceError) return reject(err);
      if (signal.aborted) {
        return reject(new Error(`no answer within ${o.timeoutMs} ms (SLUICE_WEBHOOK_TIMEOUT_MS)`));
      }
      const code = (err as NodeJS.ErrnoException).code;
      reject(new Error(code ? `${code}: ${err.message}` : err.message));
    });
    req.end(body);
  });
}

/**
 * HTTP Retry-After, seconds or an HTTP date, as milliseconds from `now` (at most `capMs`); null when
 * absent or not understood.
 */
export function parseRetryAfter(value: string | null, now: Date, capMs = 86_400_000): number | null {
  if (value === null) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at) || !/[a-z]/i.test(v)) return null;
    ms = at - now.getTime();
  }
  return Math.min(Math.max(0, ms), capMs);
}
