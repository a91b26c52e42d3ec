// The console's session (docs/console.md#api-for-the-console): signing in with the API token gives a
// stateless HttpOnly cookie that authenticates like the bearer token; a cookie-authenticated change must
// come from this server's own origin. Forged, tampered, expired and other-token cookies are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SESSION_SECONDS, sessionValue } from '../../src/api/console-session.ts';
import { buildTestApi } from './test-api.ts';

const TOKEN = 'console-test-token-0123456789';
const HOST = 'sluice.example:8080';

async function signedIn(t: Parameters<typeof buildTestApi>[0]) {
  const api = await buildTestApi(t, { apiToken: TOKEN });
  const res = await api.app.inject({
    method: 'POST',
    url: '/v1/session',
    headers: { host: HOST },
    payload: { token: TOKEN },
  });
  assert.equal(res.statusCode, 204);
  const setCookie = String(res.headers['set-cookie']);
  const value = /^sluice_session=([^;]+);/.exec(setCookie)?.[1];
  assert.ok(value, setCookie);
  return { ...api, setCookie, cookie: `sluice_session=${value}`, value };
}

/** A job to act on, made with the bearer token. */
async function aJob(api: Awaited<ReturnType<typeof buildTestApi>>): Promise<string> {
  await api.put('clip.mp4');
  const res = await api.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { authorization: `Bearer ${TOKEN}` },
    payload: { key: 'clip.mp4' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

test('GET /v1/session says whether a sign-in is needed and whether the request has one', async (t) => {
  const open = await buildTestApi(t);
  assert.deepEqual((await open.app.inject('/v1/session')).json(), { required: false, authenticated: true });
  const { app, cookie } = await signedIn(t);
  assert.deepEqual((await app.inject('/v1/session')).json(), { required: true, authenticated: false });
  const withCookie = await app.inject({ url: '/v1/session', headers: { cookie } });
  assert.deepEqual(withCookie.json(), { required: true, authenticated: true });
  const withBearer = await app.inject({ url: '/v1/session', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(withBearer.json(), { required: true, authenticated: true });
});

test('POST /v1/session sets an HttpOnly, SameSite=Strict cookie that is not the token and works as one', async (t) => {
  const { app, setCookie, value, cookie } = await signedIn(t);
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.match(setCookie, /; Path=\//);
  assert.match(setCookie, new RegExp(`; Max-Age=${SESSION_SECONDS}`));
  assert.doesNotMatch(setCookie, /Secure/, 'plain http: a Secure cookie would never be sent back');
  assert.match(value, /^v1\.\d+\.[A-Za-z0-9_-]{43}$/);
  assert.ok(!value.includes(TOKEN));
  const expires = Number(value.split('.')[1]);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(expires > now + SESSION_SECONDS - 60 && expires <= now + SESSION_SECONDS, String(expires));
  assert.equal((await app.inject('/v1/jobs')).statusCode, 401);
  const res = await app.inject({ url: '/v1/jobs', headers: { cookie: `theme=dark; ${cookie}; other=1` } });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { jobs: [] });
});

test('behind an https proxy (X-Forwarded-Proto: https) the cookie is Secure', async (t) => {
  const { app } = await buildTestApi(t, { apiToken: TOKEN });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/session',
    headers: { 'x-forwarded-proto': 'https' },
    payload: { token: TOKEN },
  });
  assert.equal(res.statusCode, 204);
  assert.match(String(res.headers['set-cookie']), /; Secure$/);
});

test('a wrong token, or a malformed body, on POST /v1/session sets no cookie', async (t) => {
  const { app } = await buildTestApi(t, { apiToken: TOKEN });
  for (const token of [`${TOKEN}x`, TOKEN.slice(0, -1), 'Bearer', ' ']) {
    const res = await app.inject({ method: 'POST', url: '/v1/session', payload: { token } });
    assert.equal(res.statusCode, 401, token);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assert.equal(res.headers['set-cookie'], undefined);
  }
  const bad = await app.inject({ method: 'POST', url: '/v1/session', payload: { token: TOKEN, extra: 1 } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'VALIDATION_FAILED');
  assert.equal(bad.headers['set-cookie'], undefined);
});

test('on a server without a token, POST /v1/session is 204 without a cookie', async (t) => {
  const { app } = await buildTestApi(t);
  const res = await app.inject({ method: 'POST', url: '/v1/session', payload: { token: 'anything' } });
  assert.equal(res.statusCode, 204);
  assert.equal(res.headers['set-cookie'], undefined);
});

test('forged, tampered, expired and other-token cookies are refused (401)', async (t) => {
  const { app, value } = await signedIn(t);
  const [, expires, hmac] = value.split('.') as [string, string, string];
  const flipped = `${hmac.slice(0, -1)}${hmac.endsWith('A') ? 'B' : 'A'}`;
  const bad = [
    TOKEN, // the token itself is no cookie
    `v1.${expires}.${flipped}`,
    `v1.${Number(expires) + 3600}.${hmac}`, // a longer life, same MAC
    `v2.${expires}.${hmac}`,
    `v1.${expires}.${hmac}x`,
    `v1.${expires}`,
    sessionValue(TOKEN, new Date(Date.now() - SESSION_SECONDS * 1000 - 1000)), // expired a second ago
    sessionValue('another-token', new Date()), // rotated token, or another server
    '',
  ];
  for (const v of bad) {
    const res = await app.inject({ url: '/v1/jobs', headers: { cookie: `sluice_session=${v}` } });
    assert.equal(res.statusCode, 401, v);
    assert.equal(res.json().code, 'UNAUTHORIZED');
  }
  // A fresh value made with the token verifies: the refusals above are about the value, not the route.
  const good = await app.inject({
    url: '/v1/jobs',
    headers: { cookie: `sluice_session=${sessionValue(TOKEN)}` },
  });
  assert.equal(good.statusCode, 200);
});

test('a cookie-authenticated change needs this origin: none or a foreign one is 403 CROSS_SITE_REQUEST', async (t) => {
  const api = await signedIn(t);
  const { app, cookie } = api;
  const id = await aJob(api);
  const cancel = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: { host: HOST, cookie, ...headers } });
  const refused: Record<string, string>[] = [
    {},
    { origin: 'https://evil.example' },
    { origin: `http://${HOST}.evil.example` },
    { origin: `https://${HOST}` }, // another scheme is another origin
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { referer: `http://${HOST}/console/` }, // a Referer is no proof
  ];
  for (const headers of refused) {
    const res = await cancel(headers);
    assert.equal(res.statusCode, 403, JSON.stringify(headers));
    assert.equal(res.json().code, 'CROSS_SITE_REQUEST');
  }
  assert.equal((await api.store.get(id))?.status, 'SUBMITTED', 'no refused request changed the job');
  const ok = await cancel({ origin: `http://${HOST}` });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().status, 'CANCELED');
  const retry = await app.inject({
    method: 'POST',
    url: `/v1/jobs/${id}/retry`,
    headers: { host: HOST, cookie, 'sec-fetch-site': 'same-origin' },
  });
  assert.equal(retry.statusCode, 200, retry.body);
  // Behind a TLS proxy the page's origin is https while the hop to Sluice is http.
  const viaProxy = await app.inject({
    method: 'POST',
    url: `/v1/jobs/${id}/cancel`,
    headers: { host: HOST, cookie, origin: `https://${HOST}`, 'x-forwarded-proto': 'https' },
  });
  assert.equal(viaProxy.statusCode, 200, viaProxy.body);
  // Reads need no origin: a GET changes nothing.
  assert.equal((await app.inject({ url: `/v1/jobs/${id}`, headers: { cookie } })).statusCode, 200);
});

test('a bearer-authenticated change needs no Origin; a foreign Origin on an open server is refused', async (t) => {
  const api = await signedIn(t);
  const id = await aJob(api);
  const res = await api.app.inject({
    method: 'POST',
    url: `/v1/jobs/${id}/cancel`,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.statusCode, 200, res.body);
  const open = await buildTestApi(t);
  await open.put('clip.mp4');
  const foreign = await open.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { origin: 'https://evil.example' },
    payload: { key: 'clip.mp4' },
  });
  assert.equal(foreign.statusCode, 403);
  assert.equal(foreign.json().code, 'CROSS_SITE_REQUEST');
  assert.deepEqual(await open.store.list({}), []);
  const cli = await open.app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'clip.mp4' } });
  assert.equal(cli.statusCode, 201, cli.body);
});

test('DELETE /v1/session clears the cookie', async (t) => {
  const { app, cookie } = await signedIn(t);
  const res = await app.inject({
    method: 'DELETE',
    url: '/v1/session',
    headers: { cookie, host: HOST, origin: `http://${HOST}` },
  });
  assert.equal(res.statusCode, 204);
  assert.match(
    String(res.headers['set-cookie']),
    /^sluice_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/,
  );
});

test('an upload signed in by the cookie needs this origin too; refused, it stores nothing', async (t) => {
  const { app, cookie, objects } = await signedIn(t);
  const put = (headers: Record<string, string>) =>
    app.inject({
      method: 'PUT',
      url: '/v1/uploads/from-console.mp4',
      headers: { host: HOST, cookie, 'content-type': 'application/octet-stream', ...headers },
      payload: Buffer.from('not really a video'),
    });
  const refused = await put({ origin: 'https://evil.example' });
  assert.equal(refused.statusCode, 403);
  assert.equal(refused.json().code, 'CROSS_SITE_REQUEST');
  assert.equal(await objects.stat('source', 'from-console.mp4'), null);
  const ok = await put({ origin: `http://${HOST}` });
  assert.equal(ok.statusCode, 201, ok.body);
  assert.ok(await objects.stat('source', 'from-console.mp4'));
});

test('a stale or planted session cookie sent first does not hide the valid one', async (t) => {
  const { app, value } = await signedIn(t);
  // A browser sends one value per matching path and domain: a narrower-path one (planted by a sibling
  // subdomain, or left from an old token) comes first.
  const res = await app.inject({
    method: 'GET',
    url: '/v1/jobs',
    headers: {
      host: HOST,
      cookie: `sluice_session=v1.9999999999.${'A'.repeat(43)}; sluice_session=${value}`,
    },
  });
  assert.equal(res.statusCode, 200, res.body);
});
