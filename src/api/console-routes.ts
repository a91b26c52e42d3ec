// The web console (docs/console.md): `/` sends a browser to `/console/`, which is the app's shell (or,
// when the server needs a token and the browser has no session, the login page); the app's bundles are
// under /console/assets/ (content-hashed names, built by scripts/build-console.mjs into dist/console/)
// and the players it loads on a job page under /console/vendor/. Every answer carries a strict
// Content-Security-Policy: only this origin's scripts, styles and media, nothing inline, no framing.
// These routes are outside the API's token hook: they decide themselves, through `authenticated`.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SluiceError } from '../errors.ts';
import { sendProblem } from './problem.ts';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The routes this file registers (server.ts keeps them out of the API's token hook). */
export const CONSOLE_ROUTES = [
  '/',
  '/console',
  '/console/',
  '/console/assets/:name',
  '/console/vendor/:name',
  '/console/*',
] as const;

/** The build's output: dist/console/ beside dist/api/ (the same from src/api/ through tsx). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export interface ConsoleDeps {
  /** Whether a request may see the app (a bearer token or a session; always, on an open server). */
  authenticated(req: FastifyRequest): boolean;
  /** The built console; default CONSOLE_DIR. */
  dir?: string;
}

const require = createRequire(import.meta.url);
const gzip = promisify(gzipCallback);

/** The players' browser builds, from their packages (loaded by the job page only). */
const VENDOR: Record<string, () => string> = {
  'hls.min.js': () => require.resolve('hls.js/dist/hls.min.js'),
  'dash.all.min.js': () => require.resolve('dashjs'),
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** One file name of the build's flat assets folder: no separator, no dot-dot, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+$/;

/** Whether Accept-Encoding names gzip with a q above 0. */
function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    return q === undefined || Number(q) > 0;
  });
}

export function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleDeps): void {
  const dir = deps.dir ?? CONSOLE_DIR;
  const notBuilt = () =>
    new SluiceError(
      'CONSOLE_NOT_BUILT',
      `the console is not built (no ${path.join(dir, 'index.html')}); run \`npm run build\` (npm ci runs it)`,
    );
  /** The assets the login page names: the only ones served without a session (read once it exists). */
  let loginNames: Set<string> | null = null;
  const loginAssets = async (): Promise<Set<string>> => {
    if (loginNames) return loginNames;
    const html = await fs.readFile(path.join(dir, 'login.html'), 'utf8').catch(() => null);
    if (html === null) return new Set();
    loginNames = new Set([...html.matchAll(/\/console\/assets\/([^"'\s>]+)/g)].map((m) => m[1] ?? ''));
    return loginNames;
  };
  // Each player read and compressed once, off the event loop (zlib's thread pool), shared by the
  // requests that arrive meanwhile.
  const vendorCache = new Map<string, Promise<{ body: Buffer; gz: Buffer }>>();

  app.register(async (scope) => {
    scope.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      return payload;
    });

    scope.get('/', async (_req, reply) => reply.redirect('/console/', 302));
    scope.get('/console', async (_req, reply) => reply.redirect('/console/', 302));

    scope.get('/console/', async (req, reply) => {
      const page = deps.authenticated(req) ? 'index.html' : 'login.html';
      const html = await fs.readFile(path.join(dir, page)).catch(() => null);
      if (!html) throw notBuilt();
      // The same URL is the app or the login page, by the session: never cached.
      return reply
        .header('cache-control', 'no-store')
        .header('vary', 'Cookie, Authorization')
        .type(TYPES['.html'] as string)
        .send(html);
    });

    scope.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
      const name = req.params.name;
      if (!ASSET_NAME.test(name)) return notFound(reply, req);
      if (!deps.authenticated(req) && !(await loginAssets()).has(name)) {
        return sendProblem(
          reply,
          new SluiceError('UNAUTHORIZED', 'sign in at /console/ first (the API token opens a session)'),
          req,
        );
      }
      const file = path.join(dir, 'assets', name);
      const gz = acceptsGzip(req) ? await fs.readFile(`${file}.gz`).catch(() => null) : null;
      const body = gz ?? (await fs.readFile(file).catch(() => null));
      if (!body) return notFound(reply, req);
      if (gz) reply.header('content-encoding', 'gzip');
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('vary', 'Accept-Encoding')
        .type(TYPES[path.extname(name)] ?? 'application/octet-stream')
        .send(body);
    });

    // Public libraries, the same for everyone: no session needed.
    scope.get<{ Params: { name: string } }>('/console/vendor/:name', async (req, reply) => {
      const resolve = Object.hasOwn(VENDOR, req.params.name) ? VENDOR[req.params.name] : undefined;
      if (!resolve) return notFound(reply, req);
      let loading = vendorCache.get(req.params.name);
      if (!loading) {
        loading = fs.readFile(resolve()).then(async (body) => ({ body, gz: await gzip(body) }));
        vendorCache.set(req.params.name, loading);
        loading.catch(() => vendorCache.delete(req.params.name));
      }
      const cached = await loading;
      if (acceptsGzip(req)) reply.header('content-encoding', 'gzip');
      return reply
        .header('cache-control', 'public, max-age=86400')
        .header('vary', 'Accept-Encoding')
        .type(TYPES['.js'] as string)
        .send(acceptsGzip(req) ? cached.gz : cached.body);
    });

    // Anything else under /console/ is a 404 with the console's headers (not the API's bare one).
    scope.get('/console/*', async (req, reply) => notFound(reply, req));
  });
}

function notFound(reply: FastifyReply, req: FastifyRequest): FastifyReply {
  return sendProblem(reply, new SluiceError('ROUTE_NOT_FOUND', `no console file ${req.url}`), req);
}
