// The console's session: a browser signs in once with the API token and then holds a cookie, so the token
// never sits in a URL, in local storage or in a page's script. The cookie is stateless,
// `v1.<expiresAtSeconds>.<HMAC-SHA256(token, "v1.<expiresAtSeconds>")>`: any replica that shares the token
// verifies it, nothing is stored, and rotating the token ends every session. It is never the token itself.
//
// A cookie is sent by the browser on its own, so a request it authenticates that changes something must
// prove it comes from the console's own page (an `Origin` equal to this server's, or, from a browser that
// sends none, `Sec-Fetch-Site: same-origin`): else another site could make a signed-in browser cancel
// jobs (CSRF). SameSite=Strict already keeps the cookie off cross-site requests in current browsers; the
// origin check does not rely on it. A bearer token is never sent by a browser on its own: no check there.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { tokenMatches } from './api-token.ts';
import { parseBody } from './validate.ts';

export const SESSION_COOKIE = 'sluice_session';
export const SESSION_ROUTE = '/v1/session';
/** How long a sign-in lasts: a working day. */
export const SESSION_SECONDS = 12 * 3600;

const VALUE = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const SignIn = z.strictObject({ token: z.string().min(1).max(4096) });

type Headers = Pick<FastifyRequest, 'headers'>;

function mac(token: string, payload: string): string {
  return createHmac('sha256', token).update(payload).digest('base64url');
}

/** A new session cookie's value, valid for `seconds` from `now`. */
export function sessionValue(token: string, now = new Date(), seconds = SESSION_SECONDS): string {
  const payload = `v1.${Math.floor(now.getTime() / 1000) + seconds}`;
  return `${payload}.${mac(token, payload)}`;
}

/** Whether a cookie value was made with this token and has not expired. */
export function sessionValid(value: string, token: string, now = new Date()): boolean {
  const m = VALUE.exec(value);
  if (!m) return false;
  if (Number(m[1]) <= Math.floor(now.getTime() / 1000)) return false;
  const expected = Buffer.from(mac(token, `v1.${m[1]}`));
  const given = Buffer.from(m[2] ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Every value of the session cookie in a Cookie header. A browser sends one per matching path and
 * domain, so another (a stale one, or one a sibling subdomain set on a narrower path) can come first:
 * any valid one counts.
 */
export function sessionCookiesOf(req: Headers): string[] {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) values.push(part.slice(eq + 1).trim());
  }
  return values.slice(0, 8);
}

/** How the request proves it may call the API: its bearer token, a valid session cookie, or neither. */
export function authenticatedBy(req: Headers, apiToken: string): 'bearer' | 'cookie' | null {
  if (tokenMatches(req.headers.authorization, apiToken)) return 'bearer';
  return sessionCookiesOf(req).some((c) => sessionValid(c, apiToken)) ? 'cookie' : null;
}

/** Bearer or cookie: what the console's own routes ask of a request when the server has a token. */
export function requestAuthenticated(req: Headers, apiToken: string | null | undefined): boolean {
  return !apiToken || authenticatedBy(req, apiToken) !== null;
}

function firstValue(h: string | string[] | undefined): string | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  return v?.split(',')[0]?.trim().toLowerCase() || undefined;
}

/** https when the connection is, or a proxy in front says so (X-Forwarded-Proto). */
function overHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https' || firstValue(req.headers['x-forwarded-proto']) === 'https';
}

/**
 * Whether the request comes from a page of this server: its Origin is this server's own
 * (`<scheme>://<Host>`, the scheme the connection's or the proxy's), or it has no Origin and the browser
 * says `Sec-Fetch-Site: same-origin`. With `requireProof` false, a request with neither passes (a
 * client that is not a browser).
 */
export function sameOrigin(req: FastifyRequest, requireProof: boolean): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin === 'string' && origin !== '') {
    if (!host) return false;
    const schemes = new Set([req.protocol, firstValue(req.headers['x-forwarded-proto'])]);
    return [...schemes].some((s) => s && origin.toLowerCase() === `${s}://${host.toLowerCase()}`);
  }
  const site = firstValue(req.headers['sec-fetch-site']);
  if (site !== undefined) return site === 'same-origin';
  return !requireProof;
}

function crossSite(): SluiceError {
  return new SluiceError(
    'CROSS_SITE_REQUEST',
    'this request changes something and is signed in by the session cookie, but it does not come from this server’s own pages (no matching Origin); use the console, or send Authorization: Bearer <token>',
  );
}

/**
 * The API's access rule (server.ts's onRequest hook, for every route that is not public): a bearer
 * token or a session cookie when the server has a token; and an unsafe request not made with a bearer
 * token must be same-origin: with a cookie it must prove it, without one (an open server on loopback) a
 * browser's foreign Origin is still refused, so a page elsewhere cannot drive a local server either.
 * Throws UNAUTHORIZED or CROSS_SITE_REQUEST.
 */
export function checkAccess(req: FastifyRequest, apiToken: string | null | undefined): void {
  const by = apiToken ? authenticatedBy(req, apiToken) : null;
  if (apiToken && by === null) {
    throw new SluiceError(
      'UNAUTHORIZED',
      'this API needs "Authorization: Bearer <token>" (or the console’s session); the token is in <data-dir>/api-token',
    );
  }
  if (by === 'bearer' || !UNSAFE.has(req.method)) return;
  if (!sameOrigin(req, by === 'cookie')) throw crossSite();
}

function cookie(value: string, maxAge: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

/** GET, POST and DELETE /v1/session: public routes (server.ts leaves them out of the token hook). */
export function registerSessionRoutes(app: FastifyInstance, apiToken: string | null | undefined): void {
  app.get(SESSION_ROUTE, async (req) => ({
    required: Boolean(apiToken),
    // An open server lets every request in: nothing to sign in to.
    authenticated: requestAuthenticated(req, apiToken),
  }));

  app.post(SESSION_ROUTE, async (req, reply: FastifyReply) => {
    const { token } = parseBody(SignIn, req.body);
    if (!apiToken) return reply.code(204).send();
    if (!tokenMatches(`Bearer ${token}`, apiToken)) {
      req.log.info({ ip: req.ip }, 'console sign-in refused: wrong token');
      throw new SluiceError('UNAUTHORIZED', 'that is not the API token; it is in <data-dir>/api-token');
    }
    return reply
      .code(204)
      .header('set-cookie', cookie(sessionValue(apiToken), SESSION_SECONDS, overHttps(req)))
      .header('cache-control', 'no-store')
      .send();
  });

  // Signing out clears the cookie; the value itself stays valid until it expires (stateless), which is
  // why a lost browser calls for a new token, not a sign-out.
  app.delete(SESSION_ROUTE, async (req, reply) =>
    reply
      .code(204)
      .header('set-cookie', cookie('', 0, overHttps(req)))
      .send(),
  );
}
