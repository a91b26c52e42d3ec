// The console's HTTP side (src/api/console-routes.ts), without a browser: the headers on every answer,
// the login page in place of the app when a token is needed, the build's assets, the vendor players.
// The console is built for real (scripts/build-console.mjs, esbuild) into a temporary folder.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildConsole } from '../../scripts/build-console.mjs';
import { CONSOLE_CSP, registerConsoleRoutes } from '../../src/api/console-routes.ts';
import { sendProblem } from '../../src/api/problem.ts';
import { buildTestApi } from '../api/test-api.ts';
import { tempDir } from '../helpers.ts';

const TOKEN = 'console-test-token';

async function built(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t, 'sluice-console-');
  await buildConsole({ outDir: dir });
  return dir;
}

function consoleApp(dir: string, tokenRequired: boolean): FastifyInstance {
  const app = Fastify();
  app.setErrorHandler((err, req, reply) => sendProblem(reply, err, req));
  registerConsoleRoutes(app, {
    dir,
    authenticated: (req) => !tokenRequired || req.headers.authorization === `Bearer ${TOKEN}`,
  });
  return app;
}

const auth = { authorization: `Bearer ${TOKEN}` };

function assertConsoleHeaders(res: { headers: Record<string, unknown>; statusCode: number }, what: string) {
  assert.equal(res.headers['content-security-policy'], CONSOLE_CSP, `CSP on ${what} (${res.statusCode})`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
}

/** The asset URLs an HTML page names (its script and style sheet). */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
}

test('every console answer carries the CSP; / and /console redirect to /console/', async (t) => {
  const app = consoleApp(await built(t), false);
  const shell = await app.inject('/console/');
  const urls = [
    '/',
    '/console',
    '/console/',
    '/console/nope',
    '/console/assets/missing.js',
    ...assetsOf(shell.body),
  ];
  for (const url of urls) assertConsoleHeaders(await app.inject(url), url);
  for (const url of ['/', '/console']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 302, url);
    assert.equal(res.headers.location, '/console/');
  }
  assert.equal((await app.inject('/console/nope')).statusCode, 404);
  assert.match(CONSOLE_CSP, /script-src 'self';/);
  assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
});

test('the served pages have no inline script or style; every asset they name is served, hashed and immutable', async (t) => {
  const dir = await built(t);
  const app = consoleApp(dir, true);
  for (const [page, headers] of [
    ['app', auth],
    ['login', {}],
  ] as const) {
    const res = await app.inject({ url: '/console/', headers });
    assert.equal(res.statusCode, 200, page);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const html = res.body;
    for (const tag of html.match(/<script\b[^>]*>/g) ?? [])
      assert.match(tag, /\bsrc="\/console\/assets\//, tag);
    assert.doesNotMatch(html, /<script\b[^>]*>[^<]+<\/script>/, `${page}: inline script`);
    assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, `${page}: inline style or handler`);
    const assets = assetsOf(html);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), page);
    for (const url of assets) {
      assert.match(url, /-[A-Z0-9]{8}\.(js|css)$/, 'a content-hashed name');
      const asset = await app.inject({ url, headers });
      assert.equal(asset.statusCode, 200, url);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      const gz = await app.inject({ url, headers: { ...headers, 'accept-encoding': 'gzip, br' } });
      assert.equal(gz.headers['content-encoding'], 'gzip', url);
      assert.equal(gunzipSync(gz.rawPayload).toString(), asset.body, 'the .gz twin is the same file');
      const refused = await app.inject({ url, headers: { ...headers, 'accept-encoding': 'gzip;q=0' } });
      assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 is a refusal');
    }
  }
  // The app page names the error hints made from docs/errors.md.
  const app1 = (await app.inject({ url: '/console/', headers: auth })).body;
  const errorsUrl = /name="sluice-errors" content="([^"]+)"/.exec(app1)?.[1];
  assert.ok(errorsUrl);
  const hints = (await app.inject({ url: errorsUrl, headers: auth })).json() as Record<string, string>;
  assert.match(hints.UNAUTHORIZED ?? '', /bearer token/);
});

test('with a token required and no session: /console/ is the login page and the app assets are 401', async (t) => {
  const app = consoleApp(await built(t), true);
  const login = await app.inject('/console/');
  assert.equal(login.statusCode, 200);
  assert.match(login.body, /<title>Sign in/);
  const appPage = await app.inject({ url: '/console/', headers: auth });
  assert.match(appPage.body, /<title>Sluice console/);
  assert.notEqual(login.body, appPage.body);
  // The login page's own script and style are served without a session; the app's are not.
  for (const url of assetsOf(login.body)) assert.equal((await app.inject(url)).statusCode, 200, url);
  const appAssets = assetsOf(appPage.body);
  assert.ok(appAssets.length >= 2);
  for (const url of appAssets) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 401, url);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assertConsoleHeaders(res, url);
    assert.equal((await app.inject({ url, headers: auth })).statusCode, 200, url);
  }
});

test('asset names cannot leave the assets folder', async (t) => {
  const dir = await built(t);
  await fs.writeFile(path.join(dir, 'secret.txt'), 'no');
  const app = consoleApp(dir, false);
  for (const url of [
    '/console/assets/..%2Fsecret.txt',
    '/console/assets/..%2F..%2Fpackage.json',
    '/console/assets/.hidden.js',
    '/console/assets/index.html%00.js',
    '/console/assets/%2e%2e%2fsecret.txt',
  ]) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  }
  // Dot segments are resolved before routing: they name /console/ itself, never a file beside assets/.
  for (const url of ['/console/assets/../secret.txt', '/console/assets/%2e%2e']) {
    assert.notEqual((await app.inject(url)).body, 'no', url);
  }
});

test('the players are served from their packages, gzip when accepted, without a session', async (t) => {
  const app = consoleApp(await built(t), true);
  for (const [name, marker] of [
    ['hls.min.js', /Hls/],
    ['dash.all.min.js', /dashjs/],
  ] as const) {
    const res = await app.inject(`/console/vendor/${name}`);
    assert.equal(res.statusCode, 200, name);
    assert.match(String(res.headers['content-type']), /^text\/javascript/);
    assert.ok(res.body.length > 100_000, `${name} is the whole library`);
    assert.match(res.body, marker);
    assertConsoleHeaders(res, name);
    const gz = await app.inject({ url: `/console/vendor/${name}`, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawPayload).toString(), res.body);
  }
  assert.equal((await app.inject('/console/vendor/hls.js')).statusCode, 404);
  assert.equal((await app.inject('/console/vendor/constructor')).statusCode, 404);
});

test('a checkout that was not built answers CONSOLE_NOT_BUILT with the command to run', async (t) => {
  const app = consoleApp(await tempDir(t), false);
  const res = await app.inject('/console/');
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().code, 'CONSOLE_NOT_BUILT');
  assert.match(res.json().detail, /npm run build/);
  assertConsoleHeaders(res, 'not built');
});

test("the API's token hook leaves the console's pages to the console (the login page needs no token)", async (t) => {
  const { app } = await buildTestApi(t, { apiToken: 'sekrit-token' });
  const res = await app.inject('/console/');
  // 200 (the login page) where dist/console is built, 503 CONSOLE_NOT_BUILT where not: never the API's 401.
  assert.notEqual(res.statusCode, 401);
  assertConsoleHeaders(res, '/console/ through buildApi');
  if (res.statusCode === 200) assert.match(res.body, /<title>Sign in/);
  assert.equal((await app.inject('/')).headers.location, '/console/');
  assert.equal((await app.inject('/v1/jobs')).statusCode, 401, 'the API itself still needs the token');
});
