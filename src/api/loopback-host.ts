// An open server (on loopback, no API token) answers only requests addressed to a loopback name. Else
// DNS rebinding reaches it: a page on attacker.example re-points its own name at 127.0.0.1, and the
// browser then talks to this server as "attacker.example" — the same origin to the browser, so the page
// reads every answer (jobs, userMetadata, outputs) and its changes carry an Origin matching their Host.
// The Host a browser sends names the page's site, which is never a loopback name for a remote page.
// A server with a token needs no such rule: the token is the guard (and proxies may name it freely).
import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import { sendProblem } from './problem.ts';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `localhost`, `*.localhost` (RFC 6761: always loopback), 127.0.0.0/8 or [::1], with or without a port. */
export function isLoopbackHostHeader(host: string): boolean {
  let name: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return false;
    name = host.slice(1, end);
    const rest = host.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return false;
    return name === '::1';
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(host);
  if (!m?.[1]) return false;
  name = m[1].toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const ip = IPV4.exec(name);
  return ip !== null && ip[1] === '127' && ip.slice(2).every((o) => Number(o) <= 255);
}

/** The rule as the first onRequest hook of an open server. */
export function guardLoopbackHost(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    // HTTP/1.0 without Host is no browser's request (every browser sends Host).
    if (host === undefined || isLoopbackHostHeader(host)) return;
    return sendProblem(
      reply,
      new SluiceError(
        'HOST_NOT_ALLOWED',
        `this server listens on loopback without a token and answers only requests for localhost, 127.0.0.1 or [::1], not "Host: ${host.slice(0, 100)}" (a web page aiming at this machine through DNS rebinding looks like this); behind a proxy, send Host: 127.0.0.1, or listen beyond loopback with --host (the API then needs its token)`,
      ),
      req,
    );
  });
}
