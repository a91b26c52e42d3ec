// The CLI's SSE client (src/cli/event-stream-client.ts) against a real server on loopback: the parser on
// the spec's corner cases; a connection the server drops is reopened with Last-Event-ID, nothing
// missed or repeated; and `followJob` polls only a server without the stream (an older Sluice, whose
// GET /v1/jobs/:id/events answers JSON whatever Accept says).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ApiClient } from '../../src/cli/api-client.ts';
import { readEventStream, type SseEvent, SseParser } from '../../src/cli/event-stream-client.ts';
import { followJob } from '../../src/cli/follow.ts';
import { notificationTypeOf } from '../../src/notify/cloud-event.ts';
import { buildTestApi } from '../api/test-api.ts';

test('the event-stream parser: fields split across chunks, CRLF, comments, multi-line data, ids that persist', () => {
  const p = new SseParser();
  const got: SseEvent[] = [];
  for (const chunk of [
    'retry: 250\r\n: hi\r\n\r\nid: 7\r',
    '\nevent: a\ndata: {"x":',
    '1}\n\n',
    'data: one\ndata:two\n\n',
  ])
    got.push(...p.push(chunk));
  assert.equal(p.retryMs, 250);
  assert.deepEqual(got, [
    { id: '7', lastEventId: '7', event: 'a', data: '{"x":1}' },
    { id: undefined, lastEventId: '7', event: 'message', data: 'one\ntwo' },
  ]);
});

test('readEventStream reconnects with Last-Event-ID after the server drops the connection: no gap, no repeat', async (t) => {
  const api = await buildTestApi(t, { eventStreams: { pollMs: 50, retryMs: 50 } });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = api.app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  await api.put('a.mp4');
  const job = (
    await api.app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'a.mp4' } })
  ).json() as {
    id: string;
  };
  const got: string[] = [];
  const reconnects: string[] = [];
  let dropped = false;
  await readEventStream({
    url: `${url}/v1/jobs/${job.id}/events`,
    onReconnect: (err) => reconnects.push(err.message),
    onEvent: (e) => {
      if (e.id !== undefined) got.push(e.id);
      if (!dropped) {
        // After the first event: every connection is cut (the stream's too), then the job is canceled,
        // so the event arrives only through the reconnect.
        dropped = true;
        api.app.server.closeAllConnections();
        void api.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel` });
      }
      return e.event === 'sluice.job.canceled';
    },
  });
  assert.ok(reconnects.length >= 1, 'it reconnected');
  const told = (await api.store.events(job.id))
    .filter((e) => notificationTypeOf(e.type))
    .map((e) => String(e.id));
  assert.deepEqual(got, told);
});

test('followJob polls a server whose event route answers JSON (an older Sluice), instead of failing', async (t) => {
  // An older Sluice, as far as the CLI sees it: jobs and their JSON history, no stream.
  const old = Fastify();
  let gets = 0;
  const view = (status: string) => ({
    id: 'job_old',
    status,
    phase: null,
    progress: { percent: status === 'COMPLETE' ? 100 : 0, fps: null, speed: null, etaSeconds: null },
  });
  old.get('/v1/jobs/:id', async () => view(++gets >= 3 ? 'COMPLETE' : 'PROGRESSING'));
  old.get('/v1/jobs/:id/events', async () => ({ events: [] }));
  await old.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => old.close());
  const oldAddr = old.server.address();
  const oldUrl = `http://127.0.0.1:${typeof oldAddr === 'object' && oldAddr ? oldAddr.port : 0}`;
  const done = await followJob(new ApiClient(oldUrl), 'job_old', 20);
  assert.equal(done.status, 'COMPLETE');
  assert.ok(gets >= 3, 'polled');
});
