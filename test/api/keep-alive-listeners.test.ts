// Requests with a body over one keep-alive connection (a worker's heartbeats every half second, a CLI
// polling) must not pile listeners onto that socket: the per-request guards remove what they add, so a
// long-lived connection never trips Node's MaxListenersExceededWarning (noise beside the logs, and a leak).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { buildTestApi } from './test-api.ts';

test('50 POSTs with a body on one keep-alive connection leave no listeners behind on its socket', async (t) => {
  const { app } = await buildTestApi(t);
  const sockets: Socket[] = [];
  app.server.on('connection', (s: Socket) => sockets.push(s));
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const post = () =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ key: 'a.mp4' });
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/v1/plan',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await post();
  assert.equal(sockets.length, 1);
  const socket = sockets[0] as Socket;
  const baseline = socket.listenerCount('close');
  for (let i = 0; i < 49; i++) await post();
  assert.equal(sockets.length, 1, 'every request went over the one connection');
  assert.equal(socket.listenerCount('close'), baseline, "the socket's close listeners did not grow");
});
