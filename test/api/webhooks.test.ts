// The webhook routes on the real API (Fastify inject, real SQLite), with a real receiver on loopback for
// pings and deliveries. The outbox's part (fan-out, claim, record) is played by `deliverDue` below, on
// the same DeliveryStore calls the outbox makes, so the delivery log the routes show is the real one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { NewJob } from '../../src/jobs/job.ts';
import type { ServiceJobStore } from '../../src/jobs/open-job-store.ts';
import { toCloudEvent } from '../../src/notify/cloud-event.ts';
import type { WebhookSink } from '../../src/notify/webhook-sink.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { WebhookReceiver } from '../webhook-receiver.ts';
import { buildTestApi } from './test-api.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
let n = 0;

async function makeJob(store: ServiceJobStore, userMetadata: Record<string, string>) {
  const key = `clip-${n++}.mp4`;
  const job: NewJob = {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1, etag: `e-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'destination', prefix: key },
    userMetadata,
    idempotencyKey: `k-${key}`,
  };
  return (await store.create(job, new Date())).job;
}

/** The outbox's steps, once: fan the job's events out to the sink's targets, then attempt what is due. */
async function fanOut(store: ServiceJobStore, sink: WebhookSink, jobId: string) {
  for (const e of await store.eventsAfter(null, 1000, { jobId })) {
    const ce = toCloudEvent(e);
    if (!ce) continue;
    const targets = await sink.targets(ce);
    await store.deliveries.enqueueDeliveries(
      'test',
      e.id,
      targets.map((target) => ({ sink: 'webhook', target, eventId: e.id, jobId, event: ce })),
      new Date(),
    );
  }
}
async function deliverDue(store: ServiceJobStore, sink: WebhookSink) {
  for (const d of await store.deliveries.claimDueDeliveries(new Date(), 100, 30_000)) {
    const at = new Date();
    const o = await sink.deliver(d);
    await store.deliveries.recordDeliveryAttempt(
      {
        deliveryId: d.id,
        attempt: d.attempts + 1,
        at: at.toISOString(),
        durationMs: Date.now() - at.getTime(),
        ok: o.ok,
        statusCode: o.statusCode ?? null,
        error: o.ok ? null : o.error,
      },
      o.ok
        ? { status: 'DELIVERED' }
        : o.retry
          ? { status: 'PENDING', nextAttemptAt: new Date().toISOString() }
          : { status: 'FAILED' },
      new Date(),
    );
  }
}

async function receiver(t: { after: (fn: () => Promise<void>) => void }) {
  const r = new WebhookReceiver();
  const port = await r.listen();
  t.after(() => r.close());
  return { r, url: `http://127.0.0.1:${port}/hooks/sluice` };
}

test('POST /v1/webhooks: the secret once, never after; refused URLs, types and fields by code', async (t) => {
  const { app } = await buildTestApi(t, { webhookAllowPrivate: false });
  const made = await app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    payload: {
      url: 'https://hooks.example.com/sluice',
      description: 'shop',
      eventTypes: ['sluice.job.complete', 'sluice.job.error', 'sluice.job.complete'],
      match: { application: 'shop' },
    },
  });
  assert.equal(made.statusCode, 201, made.body);
  const w = made.json();
  assert.match(w.id, /^wh_[A-Za-z0-9_-]{12}$/);
  assert.match(w.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  assert.deepEqual(w.eventTypes, ['sluice.job.complete', 'sluice.job.error'], 'a repeated type once');
  assert.deepEqual(w.match, { application: 'shop' });
  assert.equal(w.enabled, true);
  assert.equal(w.previousSecretActive, false);
  assert.ok(w.createdAt && w.updatedAt);

  const list = await app.inject({ method: 'GET', url: '/v1/webhooks' });
  assert.equal(list.json().webhooks.length, 1);
  const one = await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}` });
  assert.equal(one.json().url, 'https://hooks.example.com/sluice');
  for (const body of [list.body, one.body])
    assert.ok(!body.includes(w.secret.slice(6)), 'no secret after create');
  const missing = await app.inject({ method: 'GET', url: '/v1/webhooks/wh_nope' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'WEBHOOK_NOT_FOUND');

  const refused = async (payload: object, code: string, detail: RegExp, status: number) => {
    const r = await app.inject({ method: 'POST', url: '/v1/webhooks', payload });
    assert.equal(r.statusCode, status, `${JSON.stringify(payload)}: ${r.body}`);
    assert.equal(r.json().code, code);
    assert.match(r.json().detail, detail);
  };
  await refused(
    { url: 'https://x.example/', eventTypes: ['sluice.job.done'] },
    'WEBHOOK_INVALID',
    /eventTypes\[0\]: unknown event type; use one of sluice\.job\.submitted, .*sluice\.input\.information/,
    400,
  );
  await refused({ url: 'ftp://x.example/' }, 'WEBHOOK_INVALID', /only http and https/, 400);
  await refused({ url: 'https://me:pw@x.example/' }, 'WEBHOOK_INVALID', /user or password/, 400);
  await refused({ url: 'https://x.example/', colour: 'red' }, 'WEBHOOK_INVALID', /colour/, 400);
  await refused({ url: 'https://x.example/', secret: 'hunter2' }, 'WEBHOOK_INVALID', /whsec_/, 400);
  await refused(
    { url: 'http://127.0.0.1:9/' },
    'WEBHOOK_TARGET_REFUSED',
    /SLUICE_WEBHOOK_ALLOW_PRIVATE/,
    422,
  );
  await refused({ url: 'http://[::ffff:10.0.0.1]/' }, 'WEBHOOK_TARGET_REFUSED', /wraps 10\.0\.0\.1/, 422);
  await refused({ url: 'http://localhost:9/' }, 'WEBHOOK_TARGET_REFUSED', /localhost resolves to/, 422);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/webhooks' })).json().webhooks.length, 1);

  // A secret brought along is taken as it is.
  const own = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const withOwn = await app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    payload: { url: 'https://y.example/', secret: own },
  });
  assert.equal(withOwn.json().secret, own);
});

test('PATCH /v1/webhooks/:id changes filters, checks a new URL, disables (discarding what waits) and enables', async (t) => {
  const { app, store, webhookSink } = await buildTestApi(t, { webhookAllowPrivate: true });
  const { r, url } = await receiver(t);
  const w = (await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url } })).json();
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${w.id}`,
    payload: {
      eventTypes: ['sluice.job.submitted'],
      match: { application: 'shop' },
      description: 'the shop',
    },
  });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.deepEqual(patched.json().eventTypes, ['sluice.job.submitted']);
  assert.deepEqual(patched.json().match, { application: 'shop' });
  assert.equal(patched.json().description, 'the shop');
  const job = await makeJob(store, { application: 'shop' });
  await fanOut(store, webhookSink, job.id);
  assert.equal((await store.deliveries.listDeliveries({ target: w.id })).length, 1);

  const off = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${w.id}`,
    payload: { enabled: false, reason: 'receiver moving' },
  });
  assert.equal(off.json().enabled, false);
  assert.equal(off.json().disabledReason, 'receiver moving');
  const [waiting] = await store.deliveries.listDeliveries({ target: w.id });
  assert.equal(waiting?.status, 'DISCARDED', 'the pending delivery was discarded, not kept for later');
  await deliverDue(store, webhookSink);
  assert.equal(r.requests.length, 0);

  const on = await app.inject({ method: 'PATCH', url: `/v1/webhooks/${w.id}`, payload: { enabled: true } });
  assert.equal(on.json().enabled, true);
  assert.equal(on.json().disabledReason, null);
  assert.equal(on.json().disabledAt, null);

  const unknown = await app.inject({
    method: 'PATCH',
    url: '/v1/webhooks/wh_nope',
    payload: { enabled: true },
  });
  assert.equal(unknown.json().code, 'WEBHOOK_NOT_FOUND');
  const badType = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${w.id}`,
    payload: { eventTypes: ['x'] },
  });
  assert.equal(badType.json().code, 'WEBHOOK_INVALID');
});

test('a URL to a private address is refused by PATCH too, unless the server allows private targets', async (t) => {
  const { app } = await buildTestApi(t, { webhookAllowPrivate: false });
  const w = (
    await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://x.example/' } })
  ).json();
  const r = await app.inject({
    method: 'PATCH',
    url: `/v1/webhooks/${w.id}`,
    payload: { url: 'http://169.254.169.254/' },
  });
  assert.equal(r.statusCode, 422);
  assert.equal(r.json().code, 'WEBHOOK_TARGET_REFUSED');
  assert.equal(
    (await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}` })).json().url,
    'https://x.example/',
  );
});

test('POST /v1/webhooks/:id/test pings now, signed; rotate-secret signs with both secrets during the overlap', async (t) => {
  const { app, store } = await buildTestApi(t, { webhookAllowPrivate: true });
  const { r, url } = await receiver(t);
  const w = (await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url } })).json();
  const ping = await app.inject({ method: 'POST', url: `/v1/webhooks/${w.id}/test` });
  assert.equal(ping.statusCode, 200, ping.body);
  assert.equal(ping.json().ok, true);
  assert.equal(ping.json().statusCode, 204);
  const [sent] = r.requests;
  assert.ok(sent);
  const body = new Webhook(w.secret).verify(sent.body, sent.headers) as {
    type: string;
    id: string;
    data: object;
  };
  assert.equal(body.type, 'sluice.webhook.test');
  assert.equal(sent.headers['webhook-id'], ping.json().eventId);
  assert.deepEqual(await store.deliveries.listDeliveries({}), [], 'a ping is not kept as a delivery');
  assert.equal(await store.lastEventId(), null, 'nor as a job event');

  const rotated = await app.inject({
    method: 'POST',
    url: `/v1/webhooks/${w.id}/rotate-secret`,
    payload: {},
  });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const next = rotated.json();
  assert.notEqual(next.secret, w.secret);
  assert.equal(next.previousSecretActive, true);
  const overlap = Date.parse(next.previousSecretExpiresAt) - Date.now();
  assert.ok(overlap > 86_400_000 - 60_000 && overlap <= 86_400_000, 'the default overlap is 24 h');
  assert.ok(
    !JSON.stringify((await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}` })).json()).includes(
      'whsec_',
    ),
  );
  await app.inject({ method: 'POST', url: `/v1/webhooks/${w.id}/test` });
  const during = r.requests[1];
  assert.ok(during);
  assert.equal(during.headers['webhook-signature']?.split(' ').length, 2);
  new Webhook(w.secret).verify(during.body, during.headers);
  new Webhook(next.secret).verify(during.body, during.headers);

  // A rotation with no overlap: the old secret stops at once.
  const third = (
    await app.inject({
      method: 'POST',
      url: `/v1/webhooks/${w.id}/rotate-secret`,
      payload: { overlapSeconds: 0 },
    })
  ).json();
  assert.equal(third.previousSecretActive, false);
  await app.inject({ method: 'POST', url: `/v1/webhooks/${w.id}/test` });
  const after = r.requests[2];
  assert.ok(after);
  new Webhook(third.secret).verify(after.body, after.headers);
  assert.throws(() => new Webhook(next.secret).verify(after.body, after.headers));

  r.answer = () => ({ status: 500, body: 'broken' });
  const failed = (await app.inject({ method: 'POST', url: `/v1/webhooks/${w.id}/test` })).json();
  assert.equal(failed.ok, false);
  assert.equal(failed.statusCode, 500);
  assert.equal(failed.error, 'HTTP 500: broken');
});

test('the delivery log per subscription and per job, with attempts; redelivery keeps the webhook-id', async (t) => {
  const { app, store, webhookSink } = await buildTestApi(t, { webhookAllowPrivate: true });
  const { r, url } = await receiver(t);
  const w = (
    await app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      payload: { url, match: { application: 'shop' } },
    })
  ).json();
  const shop = await makeJob(store, { application: 'shop' });
  const blog = await makeJob(store, { application: 'blog' });
  await fanOut(store, webhookSink, shop.id);
  await fanOut(store, webhookSink, blog.id);
  r.answer = () => ({ status: 503, headers: { 'retry-after': '1' }, body: 'busy' });
  await deliverDue(store, webhookSink);
  r.answer = () => ({ status: 204 });
  await deliverDue(store, webhookSink);

  const log = await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}/deliveries` });
  assert.equal(log.statusCode, 200, log.body);
  const [d, ...rest] = log.json().deliveries;
  assert.equal(rest.length, 0, 'the blog job matched no filter');
  assert.equal(d.status, 'DELIVERED');
  assert.equal(d.jobId, shop.id);
  assert.equal(d.eventType, 'sluice.job.submitted');
  assert.match(d.eventId, /^evt_/);
  assert.equal(d.attempts, 2);
  assert.deepEqual(
    d.attemptLog.map((a: { attempt: number; ok: boolean; statusCode: number; error: string | null }) => [
      a.attempt,
      a.ok,
      a.statusCode,
      a.error,
    ]),
    [
      [1, false, 503, 'HTTP 503: busy'],
      [2, true, 204, null],
    ],
  );
  assert.equal(
    (await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}/deliveries?status=failed` })).json()
      .deliveries.length,
    0,
  );
  const byJob = await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}/deliveries?jobId=${shop.id}` });
  assert.equal(byJob.json().deliveries.length, 1);
  assert.equal(
    (await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}/deliveries?jobId=${blog.id}` })).json()
      .deliveries.length,
    0,
  );
  const badStatus = await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}/deliveries?status=LOST` });
  assert.equal(badStatus.json().code, 'VALIDATION_FAILED');
  assert.match(badStatus.json().detail, /PENDING, DELIVERED, FAILED, DISCARDED/);
  const jobView = await app.inject({ method: 'GET', url: `/v1/jobs/${shop.id}/deliveries` });
  assert.deepEqual(
    jobView.json().deliveries.map((x: { id: string }) => x.id),
    [d.id],
  );
  const single = (await app.inject({ method: 'GET', url: `/v1/deliveries/${d.id}` })).json();
  assert.equal(single.event.id, d.eventId);
  assert.equal(single.attemptLog.length, 2);

  const again = await app.inject({ method: 'POST', url: `/v1/deliveries/${d.id}/redeliver` });
  assert.equal(again.statusCode, 202, again.body);
  assert.equal(again.json().status, 'PENDING');
  await deliverDue(store, webhookSink);
  const ids = r.requests.map((x) => x.headers['webhook-id']);
  assert.deepEqual(
    ids,
    [d.eventId, d.eventId, d.eventId],
    'every attempt and the redelivery: one webhook-id',
  );
  const redelivered = (await app.inject({ method: 'GET', url: `/v1/deliveries/${d.id}` })).json();
  assert.equal(redelivered.status, 'DELIVERED');
  assert.equal(redelivered.attemptLog.length, 3);

  await app.inject({ method: 'PATCH', url: `/v1/webhooks/${w.id}`, payload: { enabled: false } });
  const refused = await app.inject({ method: 'POST', url: `/v1/deliveries/${d.id}/redeliver` });
  assert.equal(refused.statusCode, 409);
  assert.equal(refused.json().code, 'WEBHOOK_DISABLED');
  const none = await app.inject({ method: 'POST', url: '/v1/deliveries/dlv_nope/redeliver' });
  assert.equal(none.statusCode, 404);
  assert.equal(none.json().code, 'DELIVERY_NOT_FOUND');
});

test('DELETE /v1/webhooks/:id removes it and discards its pending deliveries', async (t) => {
  const { app, store, webhookSink } = await buildTestApi(t, { webhookAllowPrivate: true });
  const { r, url } = await receiver(t);
  const w = (await app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url } })).json();
  const job = await makeJob(store, {});
  await fanOut(store, webhookSink, job.id);
  const removed = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${w.id}` });
  assert.equal(removed.statusCode, 200, removed.body);
  assert.deepEqual(removed.json(), { id: w.id, deleted: true, discardedDeliveries: 1 });
  assert.equal((await store.deliveries.listDeliveries({ target: w.id }))[0]?.status, 'DISCARDED');
  await deliverDue(store, webhookSink);
  assert.equal(r.requests.length, 0);
  assert.equal((await app.inject({ method: 'GET', url: `/v1/webhooks/${w.id}` })).statusCode, 404);
  assert.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/webhooks/${w.id}` })).json().code,
    'WEBHOOK_NOT_FOUND',
  );
});

test('the webhook routes need the API token when the API has one', async (t) => {
  const { app } = await buildTestApi(t, { apiToken: 'secret-api-token' });
  for (const [method, url] of [
    ['POST', '/v1/webhooks'],
    ['GET', '/v1/webhooks'],
    ['GET', '/v1/webhooks/wh_x'],
    ['PATCH', '/v1/webhooks/wh_x'],
    ['DELETE', '/v1/webhooks/wh_x'],
    ['POST', '/v1/webhooks/wh_x/rotate-secret'],
    ['POST', '/v1/webhooks/wh_x/test'],
    ['GET', '/v1/webhooks/wh_x/deliveries'],
    ['GET', '/v1/jobs/job_x/deliveries'],
    ['GET', '/v1/deliveries/dlv_x'],
    ['POST', '/v1/deliveries/dlv_x/redeliver'],
  ] as const) {
    const res = await app.inject({
      method,
      url,
      ...(method === 'POST' || method === 'PATCH' ? { payload: {} } : {}),
    });
    assert.equal(res.statusCode, 401, `${method} ${url}`);
    assert.equal(res.json().code, 'UNAUTHORIZED');
  }
});
