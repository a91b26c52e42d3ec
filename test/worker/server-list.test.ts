// A pull worker's failover between control planes (server-list.ts), against real HTTP servers on
// loopback: a server that refuses connections or resets them is left for the next one, and the switch
// holds for later calls; an answer (a 4xx, a 409) is never a reason to switch.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { ServerList } from '../../src/worker/server-list.ts';
import { freePort } from '../real-server.ts';

type T = { after: (fn: () => Promise<void>) => void };

/** A server answering `status` with its name; counts requests and keeps their bodies. */
async function server(t: T, name: string, status = 200) {
  const seen: { path: string; body: string }[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ path: req.url ?? '', body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, seen };
}

/** A server that accepts connections and resets them (a control plane dying mid-request). */
async function resetting(t: T) {
  const srv = http.createServer((req) => req.socket.destroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
}

const post = (body: string) => () => ({ method: 'POST', body });

test('a refused connection moves calls to the next server, and they stay there', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const b = await server(t, 'b');
  const list = new ServerList(`${dead}, ${b.url}/`);
  const switches: string[] = [];
  list.onSwitch = (from, to) => switches.push(`${from}->${to}`);
  assert.equal(list.url, dead);
  const res = await list.fetch('/v1/worker/claim', post('x'));
  assert.deepEqual(await res.json(), { name: 'b' });
  assert.equal(list.url, b.url, 'the next call goes to the server that answered');
  await list.fetch('/v1/worker/claim', post('y'));
  assert.deepEqual(switches, [`${dead}->${b.url}`], 'switched once');
  assert.deepEqual(
    b.seen.map((s) => s.body),
    ['x', 'y'],
  );
});

test('a reset connection is a connection error too; the body is made anew for the next server', async (t) => {
  const bad = await resetting(t);
  const b = await server(t, 'b');
  const list = new ServerList([bad, b.url]);
  let made = 0;
  const res = await list.fetch('/v1/worker/jobs/j/heartbeat', () => {
    made++;
    return { method: 'POST', body: `try ${made}` };
  });
  assert.equal(res.status, 200);
  assert.equal(made, 2, 'one body per server tried');
  assert.deepEqual(b.seen, [{ path: '/v1/worker/jobs/j/heartbeat', body: 'try 2' }]);
});

test('an answer of any status is the service’s answer: 4xx and 409 do not switch', async (t) => {
  const a = await server(t, 'a', 409);
  const b = await server(t, 'b');
  const list = new ServerList([a.url, b.url]);
  let switched = false;
  list.onSwitch = () => {
    switched = true;
  };
  const res = await list.fetch('/v1/worker/jobs/j/complete', post('{}'));
  assert.equal(res.status, 409);
  assert.equal(list.url, a.url);
  assert.equal(switched, false);
  assert.equal(b.seen.length, 0, 'the other server never heard of it');
});

test('no server answering is SERVER_UNREACHABLE naming each; the list goes round to the first again', async (t) => {
  const d1 = `http://127.0.0.1:${await freePort()}`;
  const d2 = await resetting(t);
  const list = new ServerList([d1, d2]);
  await assert.rejects(list.fetch('/v1/worker/claim', post('{}'), { what: 'claim' }), (err) => {
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'SERVER_UNREACHABLE');
    assert.match(err.message, /claim failed/);
    assert.ok(err.message.includes(d1) && err.message.includes(d2), err.message);
    return true;
  });
  assert.equal(list.url, d1, 'each tried once, back at the first');
});

test('a caller’s abort is not a server failure: no switch, the abort surfaces', async (t) => {
  const slow = http.createServer(() => {}); // never answers
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        slow.closeAllConnections();
        slow.close(() => r());
      }),
  );
  const b = await server(t, 'b');
  const list = new ServerList([`http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`, b.url]);
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  await assert.rejects(list.fetch('/v1/worker/claim', post('{}'), { signal: stop.signal }), {
    name: 'AbortError',
  });
  assert.notEqual(list.url, b.url, 'still on the first server');
  assert.equal(b.seen.length, 0);
});

test('a server that does not answer within the timeout is left for the next', async (t) => {
  const slow = http.createServer(() => {});
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        slow.closeAllConnections();
        slow.close(() => r());
      }),
  );
  const b = await server(t, 'b');
  const list = new ServerList([`http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`, b.url]);
  const res = await list.fetch('/x', post('{}'), { timeoutMs: 200 });
  assert.deepEqual(await res.json(), { name: 'b' });
  assert.equal(list.url, b.url);
});

test('a list is checked: empty, not a URL, not http(s)', () => {
  assert.throws(() => new ServerList(' , '), { code: 'VALIDATION_FAILED' });
  assert.throws(() => new ServerList('http://a:1,nope'), { code: 'VALIDATION_FAILED' });
  assert.throws(() => new ServerList('ftp://a'), { code: 'VALIDATION_FAILED' });
  assert.deepEqual(new ServerList('http://a:1/,http://b:2,http://a:1').urls, ['http://a:1', 'http://b:2']);
});
