// A worker's result outlives a control-plane restart (issue 7, finding 12): `complete` and `fail` are
// resent, with backoff, to a server that does not answer, until it answers or two lease periods (30 s at
// least) have passed since it last did. A real HTTP server on loopback plays the Worker API, stopped and
// started again on the same port as a restarted `sluice serve` would be.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { WorkerApiClient } from '../../src/worker/worker-api-client.ts';

type Handler = (op: string, body: unknown) => { status: number; json: unknown };

async function listen(port: number, handler: Handler, seen: string[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      const op = req.url?.split('/').pop() ?? '';
      seen.push(op);
      const { status, json } = handler(op, JSON.parse(raw || '{}'));
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

const assignment = (leaseSeconds: number, heartbeatSeconds: number) => ({
  job: { id: 'job-1', attempt: 1 },
  leaseSeconds,
  heartbeatSeconds,
});

async function claimedClient(t: { after: (fn: () => Promise<void>) => void }, leaseSeconds: number) {
  const seen: string[] = [];
  const first = await listen(0, () => ({ status: 200, json: assignment(leaseSeconds, 0.2) }), seen);
  const port = (first.address() as net.AddressInfo).port;
  // No floor under the bound here, so that two lease periods of 0.3 s are the whole of it.
  const api = new WorkerApiClient(`http://127.0.0.1:${port}`, 'job-1', 'token', 0);
  await api.claim();
  await close(first);
  const servers: http.Server[] = [];
  t.after(async () => {
    for (const s of servers) await close(s);
  });
  const restart = async (handler: Handler) => {
    const s = await listen(port, handler, seen);
    servers.push(s);
    return s;
  };
  return { api, seen, restart };
}

test('complete is resent until the restarted server answers, and its answer is returned', async (t) => {
  const { api, seen, restart } = await claimedClient(t, 5);
  const received: unknown[] = [];
  const sent = api.complete({ outputs: [] }).then(
    (answer) => answer,
    (err: Error) => `rejected: ${err.message}`,
  );
  // The server is down for a while (its first tries are refused), then comes back on the same port.
  await new Promise((r) => setTimeout(r, 600));
  await restart((op, body) => {
    received.push(body);
    return { status: 200, json: { status: 'COMPLETE', op } };
  });
  assert.deepEqual(await sent, { status: 'COMPLETE', op: 'complete' });
  assert.deepEqual(received, [{ outputs: [] }], 'delivered once');
  assert.deepEqual(seen, ['claim', 'complete']);
});

test('fail is resent too, and a result is given up once the server has been silent for two lease periods', async (t) => {
  const { api } = await claimedClient(t, 0.3);
  const started = Date.now();
  await assert.rejects(
    api.fail({ code: 'TRANSCODE_FAILED', message: 'x' }),
    (err) => err instanceof SluiceError && err.code === 'SERVER_UNREACHABLE',
  );
  assert.ok(api.unreachableTooLong(), 'given up only past the bound');
  assert.ok(Date.now() - started >= 300, 'it was resent, not dropped at the first refusal');
});

test('an answer that is not a network failure is not resent: LEASE_LOST comes back at once', async (t) => {
  const { api, seen, restart } = await claimedClient(t, 5);
  await restart(() => ({ status: 409, json: { code: 'LEASE_LOST', detail: 'job is COMPLETE' } }));
  await assert.rejects(
    api.complete({ outputs: [] }),
    (err) => err instanceof SluiceError && err.code === 'LEASE_LOST',
  );
  assert.deepEqual(seen, ['claim', 'complete']);
});

test('claim is resent too: a worker launched just before its server died claims from the next one', async (t) => {
  const probe = await listen(0, () => ({ status: 500, json: {} }), []);
  const port = (probe.address() as net.AddressInfo).port;
  await close(probe);
  const api = new WorkerApiClient(`http://127.0.0.1:${port}`, 'job-1', 'token');
  const claimed = api.claim().then(
    (a) => a,
    (err: Error) => `rejected: ${err.message}`,
  );
  await new Promise((r) => setTimeout(r, 400));
  const seen: string[] = [];
  const next = await listen(port, () => ({ status: 200, json: assignment(5, 0.2) }), seen);
  t.after(() => close(next));
  assert.deepEqual(await claimed, assignment(5, 0.2));
  assert.deepEqual(seen, ['claim']);
});

test('a VERSION_CONFLICT answer (the job changed under the server) is resent, not taken as the end of the attempt', async (t) => {
  const { api, seen, restart } = await claimedClient(t, 5);
  let conflicts = 2;
  await restart(() =>
    conflicts-- > 0
      ? { status: 503, json: { code: 'VERSION_CONFLICT', detail: 'changed concurrently' } }
      : { status: 200, json: { status: 'COMPLETE' } },
  );
  assert.deepEqual(await api.complete({ outputs: [] }), { status: 'COMPLETE' });
  assert.deepEqual(seen, ['claim', 'complete', 'complete', 'complete']);
});
