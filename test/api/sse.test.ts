// Live event streams (SSE) on a real Fastify server on loopback over a real SQLite store: filters, resuming
// with Last-Event-ID through both of the feed's paths (the ring and the catch-up from the store), the 400
// of a bad Last-Event-ID, the stream cap's 503, the slow-client guard leaving streams alone, and streams
// ending when the server closes. The whole job through real ffmpeg is test/e2e/sse.test.ts.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { notificationTypeOf } from '../../src/notify/cloud-event.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { waitFor } from '../helpers.ts';
import { openSse, type SseReader } from '../sse-reader.ts';
import { buildTestApi, type TestApiOptions } from './test-api.ts';

async function listening(t: Parameters<typeof buildTestApi>[0], o: TestApiOptions = {}) {
  const api = await buildTestApi(t, { ...o, eventStreams: { pollMs: 50, ...o.eventStreams } });
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = api.app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const streams: SseReader[] = [];
  t.after(async () => {
    for (const s of streams) s.close();
  });
  const sse = async (route: string, headers: Record<string, string> = {}) => {
    const s = await openSse(url + route, headers);
    streams.push(s);
    return s;
  };
  const createJob = async (key: string, userMetadata?: Record<string, string>) => {
    await api.put(key);
    const res = await api.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { key, ...(userMetadata ? { userMetadata } : {}) },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as JobView;
  };
  const cancel = async (id: string) => {
    const res = await api.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    assert.equal(res.statusCode, 200, res.body);
  };
  /** The told events of the whole log, or of one job, as the SSE ids they must have. */
  const toldIds = async (jobId?: string) =>
    (await api.store.eventsAfter(null, 10_000, jobId ? { jobId } : {}))
      .filter((e) => notificationTypeOf(e.type))
      .map((e) => String(e.id));
  /**
   * Waits until the stream has the newest told event (of the log, or of one job), then returns the told
   * ids up to there and the stream's durable ids cut at the same length (more may arrive meanwhile: the
   * scheduler claims jobs on its own).
   */
  const caughtUp = async (streams: SseReader[], jobId?: string) => {
    const want = await waitFor('the stream to catch up', async () => {
      const all = await toldIds(jobId);
      const got = streams.flatMap(ids);
      return got.includes(all.at(-1) as string) ? all : null;
    });
    const got = streams.flatMap(ids);
    assert.equal(new Set(got).size, got.length, `no repeat: ${got}`);
    return { want, got: got.slice(0, want.length) };
  };
  return { ...api, url, sse, createJob, cancel, toldIds, caughtUp };
}

const durable = (s: SseReader) => s.messages.filter((m) => m.id !== undefined);
const ids = (s: SseReader) => durable(s).map((m) => m.id);
const data = (m: { data: string }) =>
  JSON.parse(m.data) as { id: string; type: string; data: { job: { id: string; userMetadata: object } } };

test('GET /v1/events filters by type, job (a unique prefix will do) and meta.<key>; from now by default', async (t) => {
  const api = await listening(t);
  const earlier = await api.createJob('earlier.mp4', { application: 'a' });
  // Opened before the jobs below: "from now" leaves `earlier` out.
  const appA = await api.sse('/v1/events?meta.application=a&type=sluice.job.submitted,sluice.job.canceled');
  assert.equal(appA.status, 200);
  assert.match(appA.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(appA.headers.get('cache-control'), 'no-cache');
  assert.equal(appA.headers.get('x-accel-buffering'), 'no');
  const canceledOnly = await api.sse('/v1/events?type=sluice.job.canceled&type=sluice.job.error');
  await appA.until('the stream open', () => appA.raw().includes(': connected'));
  const a = await api.createJob('a.mp4', { application: 'a' });
  const b = await api.createJob('b.mp4', { application: 'b' });
  await api.cancel(b.id);
  await api.cancel(a.id);
  await appA.until('a submitted and canceled', (m) => m.length >= 2);
  await canceledOnly.until('both canceled', (m) => m.length >= 2);
  // b's events came before a's cancel: had they passed the filter, they would be here.
  assert.deepEqual(
    appA.messages.map((m) => [m.event, data(m).data.job.id]),
    [
      ['sluice.job.submitted', a.id],
      ['sluice.job.canceled', a.id],
    ],
  );
  assert.deepEqual(
    canceledOnly.messages.map((m) => [m.event, data(m).data.job.id]),
    [
      ['sluice.job.canceled', b.id],
      ['sluice.job.canceled', a.id],
    ],
  );
  // SSE id = the log position; data = the CloudEvent, whose data.event.seq is that position too.
  for (const m of appA.messages)
    assert.equal(String((JSON.parse(m.data) as { data: { event: { seq: number } } }).data.event.seq), m.id);

  // from=start and job=<prefix>: b's whole history (its submitted and canceled), nothing of the others.
  const onlyB = await api.sse(`/v1/events?from=start&job=${b.id.slice(0, -2)}`);
  const onlyBIds = await api.caughtUp([onlyB], b.id);
  assert.deepEqual(onlyBIds.got, onlyBIds.want);
  assert.ok(durable(onlyB).every((m) => data(m).data.job.id === b.id));
  const all = await api.sse('/v1/events?from=start&meta.application=a&type=sluice.job.submitted');
  await all.until("earlier's and a's submitted", (m) => m.length >= 2);
  assert.deepEqual(
    all.messages.map((m) => data(m).data.job.id),
    [earlier.id, a.id],
  );

  const bad = await fetch(`${api.url}/v1/events?type=sluice.job.done`, {
    headers: { accept: 'text/event-stream' },
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'VALIDATION_FAILED');
  const unknown = await fetch(`${api.url}/v1/events?application=a`);
  assert.equal(((await unknown.json()) as { code: string }).code, 'VALIDATION_FAILED');
});

test('GET /v1/jobs/:id/events: JSON without Accept: text/event-stream; a stream from SUBMITTED with it', async (t) => {
  const api = await listening(t);
  const job = await api.createJob('a.mp4');
  const json = await fetch(`${api.url}/v1/jobs/${job.id}/events`);
  assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(((await json.json()) as { events: { type: string }[] }).events[0]?.type, 'job:created');
  const stream = await api.sse(`/v1/jobs/${job.id.slice(0, -2)}/events`);
  await stream.until('submitted', (m) => m.length >= 1);
  assert.match(stream.raw(), /^retry: \d+\n/);
  assert.equal(stream.messages[0]?.event, 'sluice.job.submitted');
  await api.cancel(job.id);
  await stream.until('canceled', (m) => m.some((x) => x.event === 'sluice.job.canceled'));
  const { want, got } = await api.caughtUp([stream], job.id);
  assert.deepEqual(got, want);
});

test('a bad Last-Event-ID is a 400 INVALID_LAST_EVENT_ID problem, as header and as query parameter', async (t) => {
  const api = await listening(t);
  const job = await api.createJob('a.mp4');
  for (const [route, headers] of [
    [`/v1/jobs/${job.id}/events`, { 'last-event-id': 'abc' }],
    [`/v1/jobs/${job.id}/events?lastEventId=1.5`, {}],
    ['/v1/events', { 'last-event-id': '-3' }],
    ['/v1/events?lastEventId=12x', {}],
    // An id past the newest event was never sent.
    ['/v1/events', { 'last-event-id': '999999' }],
  ] as const) {
    const res = await fetch(api.url + route, { headers: { accept: 'text/event-stream', ...headers } });
    assert.equal(res.status, 400, route);
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const body = (await res.json()) as { code: string; detail: string };
    assert.equal(body.code, 'INVALID_LAST_EVENT_ID', route);
    assert.ok(body.detail.length > 10);
  }
});

for (const [name, feed] of [
  ['the feed ring', {}],
  // A ring of 2 and pages of 2: the Last-Event-ID is long gone from the ring, and the replay takes pages.
  ['the catch-up from the store', { ringSize: 2, pageSize: 2 }],
] as const) {
  test(`resuming with Last-Event-ID through ${name}: everything after it once, nothing before it`, async (t) => {
    const api = await listening(t, { eventStreams: feed });
    const jobs: JobView[] = [];
    for (const k of ['a.mp4', 'b.mp4', 'c.mp4']) jobs.push(await api.createJob(k));
    const first = await api.sse('/v1/events?from=start');
    await first.until('three submitted', (m) => m.length >= 3);
    const lastSeen = durable(first).at(-1)?.id ?? '';
    first.close();
    // While disconnected: more events, some of them before the next connection's feed ring fills.
    for (const j of jobs) await api.cancel(j.id);
    for (const k of ['d.mp4', 'e.mp4']) jobs.push(await api.createJob(k));
    // Keep a stream open meanwhile, so the feed (and its ring) runs on past the missed events.
    const other = await api.sse('/v1/events');
    await other.until('other open', () => other.raw().includes(': connected'));
    await api.cancel(jobs[3]?.id ?? '');
    await other.until('d canceled', (m) => m.length >= 1);
    const resumed = await api.sse('/v1/events', { 'last-event-id': lastSeen });
    await api.caughtUp([first, resumed]);
    // And live after the replay:
    await api.cancel(jobs[4]?.id ?? '');
    const { want, got } = await api.caughtUp([first, resumed]);
    assert.deepEqual(got, want, 'no gap, no repeat');
    assert.ok(ids(resumed).length >= 6, 'the replay had the events missed while disconnected');

    // A job's stream resumed too: ?lastEventId (for clients without headers) after its first event.
    const a = jobs[0]?.id ?? '';
    const aIds = await api.toldIds(a);
    const aResumed = await api.sse(`/v1/jobs/${a}/events?lastEventId=${aIds[0]}`);
    await aResumed.until("a's cancel", (m) => m.some((x) => x.event === 'sluice.job.canceled'));
    assert.deepEqual(ids(aResumed), aIds.slice(1));
  });
}

test('the event-stream cap answers 503 SERVER_BUSY with Retry-After; a closed stream frees its place', async (t) => {
  const api = await listening(t, { eventStreams: { maxStreams: 2 } });
  const one = await api.sse('/v1/events');
  const two = await api.sse('/v1/events?from=start');
  assert.equal(one.status, 200);
  assert.equal(two.status, 200);
  const three = await fetch(`${api.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
  assert.equal(three.status, 503);
  assert.ok(Number(three.headers.get('retry-after')) > 0);
  assert.equal(((await three.json()) as { code: string }).code, 'SERVER_BUSY');
  // The JSON routes are not streams: not capped.
  const job = await api.createJob('a.mp4');
  const json = await fetch(`${api.url}/v1/jobs/${job.id}/events`);
  assert.equal(json.status, 200);
  await json.body?.cancel();
  one.close();
  const four = await (async () => {
    for (;;) {
      const s = await api.sse('/v1/events');
      if (s.status === 200) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  assert.equal(four.status, 200);
});

test('a stream outlives the client timeouts and gets keep-alive comments; closing the server ends it', async (t) => {
  const api = await listening(t, {
    clientLimits: {
      headersTimeoutMs: 200,
      idleTimeoutMs: 200,
      keepAliveTimeoutMs: 200,
      requestTimeoutMs: 200,
    },
    eventStreams: { keepAliveMs: 100 },
  });
  const stream = await api.sse('/v1/events');
  // Several times every client timeout, then an event still arrives on the same connection.
  await stream.until('keep-alive comments', () => (stream.raw().match(/: keep-alive/g) ?? []).length >= 8);
  assert.equal(stream.ended(), false);
  const job = await api.createJob('a.mp4');
  await stream.until('the job submitted', (m) => m.some((x) => data(x).data.job.id === job.id));
  const jobStream = await api.sse(`/v1/jobs/${job.id}/events`);
  await jobStream.until('submitted', (m) => m.length >= 1);
  // Fastify would wait for open responses; the feed's preClose ends them first.
  await api.app.close();
  await stream.until('ended', () => stream.ended(), 5000);
  await jobStream.until('ended', () => jobStream.ended(), 5000);
});

test('a client that stops reading is dropped once its unsent buffer passes the bound, freeing its place', async (t) => {
  const api = await listening(t, { eventStreams: { maxStreams: 1, maxBufferedBytes: 256 * 1024 } });
  const port = new URL(api.url).port;
  const socket = net.connect(Number(port), '127.0.0.1');
  t.after(async () => {
    socket.destroy();
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.pause(); // reads nothing, ever
  socket.write('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  // It holds the only stream place.
  await waitFor('the slow stream open', async () => {
    const res = await fetch(`${api.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
    await res.body?.cancel();
    return res.status === 503;
  });
  // Then events of 100 KB each (their job summaries carry large userMetadata): 8 MB to send, more than
  // the kernel's socket buffers on loopback take from a client that reads nothing.
  const template = getBuiltinTemplate('abr-default');
  for (let i = 0; i < 80; i++) {
    await api.store.create(
      {
        pipeline: 'default',
        input: { bucket: 'source', key: `k${i}.mp4`, size: 1, etag: `e${i}` },
        templateName: 'abr-default',
        template,
        destination: { bucket: 'destination', prefix: `k${i}` },
        userMetadata: { note: 'x'.repeat(100_000) },
        idempotencyKey: `t|source|k${i}|e${i}`,
      },
      new Date(),
    );
  }
  const next = await waitFor(
    'the place freed',
    async () => {
      const res = await fetch(`${api.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
      if (res.status === 200) return res;
      await res.body?.cancel();
      return null;
    },
    20_000,
  );
  await next.body?.cancel();
});

test('the API token applies to event streams (header only: EventSource cannot send it, see the docs)', async (t) => {
  const api = await listening(t, { apiToken: 'sekrit-token-0123456789' });
  const without = await fetch(`${api.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
  assert.equal(without.status, 401);
  assert.equal(((await without.json()) as { code: string }).code, 'UNAUTHORIZED');
  const asQuery = await fetch(`${api.url}/v1/events?token=sekrit-token-0123456789`, {
    headers: { accept: 'text/event-stream' },
  });
  assert.equal(asQuery.status, 401);
  const withToken = await api.sse('/v1/events', { authorization: 'Bearer sekrit-token-0123456789' });
  assert.equal(withToken.status, 200);
});

test('STATUS_UPDATE events (the outbox ticker writes them) reach the stream like any other event', async (t) => {
  const api = await listening(t);
  const job = await api.createJob('a.mp4');
  api.scheduler.poke(); // the fake launcher's claim makes it PROGRESSING
  await waitFor('PROGRESSING', async () => (await api.store.get(job.id))?.status === 'PROGRESSING');
  const stream = await api.sse(`/v1/events?job=${job.id}&type=sluice.job.status_update`);
  await stream.until('open', () => stream.raw().includes(': connected'));
  assert.equal(await api.store.recordStatusUpdate(job.id, new Date()), true);
  await stream.until('the status update', (m) => m.length >= 1);
  assert.equal(stream.messages[0]?.event, 'sluice.job.status_update');
  const ce = data(stream.messages[0] as { data: string });
  assert.equal(ce.data.job.id, job.id);
});
