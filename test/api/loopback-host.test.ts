// DNS rebinding: a web page on attacker.example whose name the attacker re-points at 127.0.0.1 can make a
// browser talk to an open (loopback, token-less) Sluice as "attacker.example" — same origin to the
// browser, so it may read every answer (jobs, userMetadata, outputs) and send changes whose Origin
// matches their Host. An open server therefore answers only requests addressed to a loopback name.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { isLoopbackHostHeader } from '../../src/api/loopback-host.ts';
import { buildTestApi } from './test-api.ts';

test('an open server refuses requests addressed to another name (DNS rebinding): 403 HOST_NOT_ALLOWED', async (t) => {
  const api = await buildTestApi(t);
  for (const host of [
    'attacker.example:8787',
    'attacker.example',
    '10.0.0.5:8787',
    '127.0.0.1.nip.io:8787',
  ]) {
    for (const url of ['/v1/jobs', '/console/', '/v1/health']) {
      const res = await api.app.inject({ method: 'GET', url, headers: { host } });
      assert.equal(res.statusCode, 403, `${host} ${url}: ${res.body.slice(0, 200)}`);
      assert.equal(res.json().code, 'HOST_NOT_ALLOWED');
    }
    const change = await api.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { host, origin: `http://${host}`, 'content-type': 'application/json' },
      payload: { key: 'clip.mp4' },
    });
    assert.equal(change.statusCode, 403, `a change with a matching Origin too: ${host}`);
  }
  for (const host of [
    'localhost:8787',
    '127.0.0.1:8787',
    '127.1.2.3',
    '[::1]:8787',
    'LOCALHOST',
    'sluice.localhost:80',
  ]) {
    const res = await api.app.inject({ method: 'GET', url: '/v1/jobs', headers: { host } });
    assert.equal(res.statusCode, 200, `${host}: ${res.body.slice(0, 200)}`);
  }
});

test('an open server over a real socket: 127.0.0.1 answers, a rebound name is refused', async (t) => {
  const api = await buildTestApi(t);
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = api.app.server.address() as AddressInfo;
  const get = (host: string) =>
    new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/jobs', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
  assert.equal(await get(`127.0.0.1:${port}`), 200);
  assert.equal(await get(`rebind.attacker.example:${port}`), 403);
});

test('a server with a token answers any Host (the token is the guard; proxies name it freely)', async (t) => {
  const api = await buildTestApi(t, { apiToken: 'host-test-token' });
  const res = await api.app.inject({
    method: 'GET',
    url: '/v1/jobs',
    headers: { host: 'sluice.internal.example', authorization: 'Bearer host-test-token' },
  });
  assert.equal(res.statusCode, 200);
});

test('isLoopbackHostHeader: loopback names and literals only, ports optional', () => {
  for (const ok of [
    'localhost',
    'localhost:1',
    'a.localhost',
    '127.0.0.1',
    '127.255.0.9:80',
    '[::1]',
    '[::1]:8787',
  ])
    assert.equal(isLoopbackHostHeader(ok), true, ok);
  for (const bad of [
    'example.com',
    '127.0.0.1.example.com',
    'localhost.example.com',
    '128.0.0.1',
    '[::2]',
    '[::1',
    '127.0.0.1:80:80',
    '127.0.0.256',
    '0.0.0.0',
    '',
  ])
    assert.equal(isLoopbackHostHeader(bad), false, bad);
});
