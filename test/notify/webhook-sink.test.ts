// The webhook sink against a real receiver on loopback (node:http), with subscriptions in a real SQLite
// store: Standard Webhooks headers verified by the `standardwebhooks` package itself, both signatures
// during a secret rotation's overlap, what each answer comes to (2xx, 3xx not followed, 410, 5xx with
// Retry-After, no listener, a hang), and the SSRF guard refusing private targets before any byte is sent.
import assert from 'node:assert/strict';
import type dns from 'node:dns';
import path from 'node:path';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { NewJob } from '../../src/jobs/job.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { type JobCloudEvent, NOTIFICATION_TYPES, toCloudEvent } from '../../src/notify/cloud-event.ts';
import type { Delivery } from '../../src/notify/sink.ts';
import { parseRetryAfter } from '../../src/notify/webhook-post.ts';
import { WebhookSink } from '../../src/notify/webhook-sink.ts';
import {
  newWebhookId,
  newWebhookSecret,
  type WebhookSubscription,
} from '../../src/notify/webhook-subscriptions.ts';
import {
  checkWebhookTarget,
  checkWebhookUrl,
  refusedAddressReason,
} from '../../src/notify/webhook-target.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { silentLog, tempDir, waitFor } from '../helpers.ts';
import { freePort } from '../real-server.ts';
import { WebhookReceiver } from '../webhook-receiver.ts';

type T = Parameters<typeof tempDir>[0];

async function fixture(t: T, o: { allowPrivate?: boolean; timeoutMs?: number } = {}) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const receiver = new WebhookReceiver();
  const port = await receiver.listen();
  t.after(async () => {
    await receiver.close();
    await store.close();
  });
  const sink = new WebhookSink({
    store: store.webhooks,
    allowPrivate: o.allowPrivate ?? true,
    timeoutMs: o.timeoutMs ?? 5000,
    log: silentLog,
  });
  const subscribe = (url: string, over: Partial<WebhookSubscription> = {}) =>
    store.webhooks.createWebhook(
      {
        id: newWebhookId(),
        url,
        description: null,
        eventTypes: over.eventTypes ?? [],
        match: over.match ?? {},
        secret: over.secret ?? newWebhookSecret(),
      },
      new Date(),
    );
  // A real job's first event, as the outbox reads it from the log.
  const TEMPLATE = getBuiltinTemplate('abr-default');
  let n = 0;
  const jobEvent = async (userMetadata: Record<string, string> = {}): Promise<JobCloudEvent> => {
    const key = `in-${n++}.mp4`;
    const job: NewJob = {
      pipeline: 'default',
      input: { bucket: 'source', key, size: 1, etag: `e-${key}` },
      templateName: TEMPLATE.name,
      template: TEMPLATE,
      destination: { bucket: 'destination', prefix: key },
      userMetadata,
      idempotencyKey: `k-${key}`,
    };
    const { job: made } = await store.create(job, new Date());
    const logged = (await store.eventsAfter(null, 1000, { jobId: made.id })).at(-1);
    assert.ok(logged);
    const ce = toCloudEvent(logged);
    assert.ok(ce);
    return ce;
  };
  const delivery = (w: WebhookSubscription, event: JobCloudEvent): Delivery => ({
    id: 'dlv_test',
    sink: 'webhook',
    target: w.id,
    eventId: event.data.event.seq,
    jobId: event.data.job?.id ?? '',
    event,
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: new Date().toISOString(),
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    deliveredAt: null,
    lastStatusCode: null,
    lastError: null,
  });
  return { store, receiver, url: `http://127.0.0.1:${port}/hook`, port, sink, subscribe, jobEvent, delivery };
}

test('a delivery is the CloudEvent as JSON with Standard Webhooks headers that standardwebhooks verifies', async (t) => {
  const f = await fixture(t);
  const w = await f.subscribe(f.url);
  const event = await f.jobEvent({ application: 'shop' });
  const before = Math.floor(Date.now() / 1000);
  const outcome = await f.sink.deliver(f.delivery(w, event));
  assert.deepEqual(outcome, { ok: true, statusCode: 204 });
  assert.equal(f.receiver.requests.length, 1);
  const [r] = f.receiver.requests;
  assert.ok(r);
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/hook');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.match(r.headers['user-agent'] ?? '', /^Sluice\/\d+\.\d+\.\d+ /);
  assert.equal(r.headers['webhook-id'], event.id, 'webhook-id is the CloudEvent id');
  const ts = Number(r.headers['webhook-timestamp']);
  assert.ok(
    Number.isInteger(ts) && ts >= before && ts <= Math.ceil(Date.now() / 1000),
    'seconds, at the attempt',
  );
  assert.match(r.headers['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/]+=*$/, 'one v1 signature');
  assert.deepEqual(JSON.parse(r.body), event, 'the body is the CloudEvent');
  assert.deepEqual(new Webhook(w.secret).verify(r.body, r.headers), event, 'standardwebhooks verifies it');
  assert.throws(() => new Webhook(newWebhookSecret()).verify(r.body, r.headers), /No matching signature/);
  assert.throws(
    () => new Webhook(w.secret).verify(r.body.replace('shop', 'shoq'), r.headers),
    /No matching signature/,
    'the body is signed',
  );

  // A redelivery of the same event keeps its webhook-id (receivers deduplicate on it).
  assert.equal((await f.sink.deliver(f.delivery(w, event))).ok, true);
  assert.equal(f.receiver.requests[1]?.headers['webhook-id'], event.id);
});

test('after a rotation both secrets sign until the overlap ends; then only the new one', async (t) => {
  const f = await fixture(t);
  const w = await f.subscribe(f.url);
  const event = await f.jobEvent();
  const next = newWebhookSecret();
  const overlapEnds = new Date(Date.now() + 500);
  const rotated = await f.store.webhooks.rotateWebhookSecret(w.id, next, overlapEnds, new Date());
  assert.equal(rotated?.secret, next);
  assert.equal(rotated?.previousSecret, w.secret);

  assert.equal((await f.sink.deliver(f.delivery(w, event))).ok, true);
  const during = f.receiver.requests[0];
  assert.ok(during);
  const sigs = (during.headers['webhook-signature'] ?? '').split(' ');
  assert.equal(sigs.length, 2, 'two space-separated signatures during the overlap');
  for (const s of sigs) assert.match(s, /^v1,/);
  new Webhook(next).verify(during.body, during.headers);
  new Webhook(w.secret).verify(during.body, during.headers);

  await waitFor('the overlap to end', async () => Date.now() > overlapEnds.getTime() + 5);
  assert.equal((await f.sink.deliver(f.delivery(w, event))).ok, true);
  const after = f.receiver.requests[1];
  assert.ok(after);
  assert.equal((after.headers['webhook-signature'] ?? '').split(' ').length, 1);
  new Webhook(next).verify(after.body, after.headers);
  assert.throws(() => new Webhook(w.secret).verify(after.body, after.headers), /No matching signature/);
});

test('only 2xx is delivered: 3xx is not followed, 4xx and 5xx are retried, Retry-After is read', async (t) => {
  const f = await fixture(t);
  const w = await f.subscribe(f.url);
  const event = await f.jobEvent();
  const d = f.delivery(w, event);

  f.receiver.answer = () => ({ status: 302, headers: { location: `http://127.0.0.1:${f.port}/elsewhere` } });
  const redirected = await f.sink.deliver(d);
  assert.equal(redirected.ok, false);
  assert.ok(!redirected.ok && redirected.retry && redirected.statusCode === 302);
  assert.match(!redirected.ok ? redirected.error : '', /HTTP 302 \(redirects are not followed\)/);
  assert.deepEqual(
    f.receiver.requests.map((r) => r.url),
    ['/hook'],
    'the Location was not requested',
  );

  f.receiver.answer = () => ({ status: 503, headers: { 'retry-after': '7' }, body: 'down for maintenance' });
  const busy = await f.sink.deliver(d);
  assert.deepEqual(busy, {
    ok: false,
    retry: true,
    statusCode: 503,
    error: 'HTTP 503: down for maintenance',
    retryAfterMs: 7000,
  });

  const at = new Date(Date.now() + 120_000);
  f.receiver.answer = () => ({ status: 429, headers: { 'retry-after': at.toUTCString() } });
  const limited = await f.sink.deliver(d);
  assert.ok(!limited.ok && limited.retry && limited.statusCode === 429);
  const ms = !limited.ok ? (limited.retryAfterMs ?? -1) : -1;
  assert.ok(ms > 110_000 && ms <= 120_000, `an HTTP date: ${ms} ms`);

  for (const status of [400, 404, 500]) {
    f.receiver.answer = () => ({ status, body: 'x'.repeat(20_000) });
    const o = await f.sink.deliver(d);
    assert.ok(!o.ok && o.retry && o.statusCode === status && o.retryAfterMs === undefined, `${status}`);
    assert.ok(!o.ok && o.error.length < 600, 'a few hundred characters of the answer are kept');
  }
  f.receiver.answer = () => ({ status: 200, body: 'ok' });
  assert.deepEqual(await f.sink.deliver(d), { ok: true, statusCode: 200 });
});

test('Retry-After: seconds or an HTTP date; anything else is ignored; capped at a day', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:30 GMT', now), 90_000);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0, 'a date past is now');
  assert.equal(parseRetryAfter('soon', now), null);
  assert.equal(parseRetryAfter('-5', now), null);
  assert.equal(parseRetryAfter('1.5', now), null);
  assert.equal(parseRetryAfter(null, now), null);
  assert.equal(parseRetryAfter('999999999', now), 86_400_000);
});

test('410 Gone disables the subscription: no more targets, no more requests', async (t) => {
  const f = await fixture(t);
  const w = await f.subscribe(f.url);
  const event = await f.jobEvent();
  assert.deepEqual(await f.sink.targets(event), [w.id]);
  f.receiver.answer = () => ({ status: 410, body: 'gone' });
  const gone = await f.sink.deliver(f.delivery(w, event));
  assert.deepEqual(gone, {
    ok: false,
    retry: false,
    disableTarget: true,
    statusCode: 410,
    error: 'HTTP 410: gone',
  });
  // The outbox calls disableTarget on that outcome.
  await f.sink.disableTarget(w.id, 'the receiver answered 410 Gone', new Date());
  const disabled = await f.store.webhooks.getWebhook(w.id);
  assert.equal(disabled?.enabled, false);
  assert.equal(disabled?.disabledReason, 'the receiver answered 410 Gone');
  assert.ok(disabled?.disabledAt);
  assert.deepEqual(await f.sink.targets(await f.jobEvent()), []);
  const later = await f.sink.deliver(f.delivery(w, event));
  assert.ok(!later.ok && !later.retry);
  assert.match(!later.ok ? later.error : '', /disabled \(the receiver answered 410 Gone\)/);
  assert.equal(f.receiver.requests.length, 1, 'nothing sent to a disabled subscription');

  await f.store.webhooks.deleteWebhook(w.id);
  const removed = await f.sink.deliver(f.delivery(w, event));
  assert.ok(!removed.ok && !removed.retry && /was removed/.test(removed.error));
});

// The test's own timeout: an attempt that ignored its deadline would hang on the receiver, not fail.
test('no answer within the timeout, or no listener: retried later', { timeout: 10_000 }, async (t) => {
  const f = await fixture(t, { timeoutMs: 300 });
  const w = await f.subscribe(f.url);
  const event = await f.jobEvent();
  f.receiver.answer = () => 'hang';
  const started = Date.now();
  const hung = await f.sink.deliver(f.delivery(w, event));
  assert.ok(!hung.ok && hung.retry && hung.statusCode === undefined);
  assert.match(!hung.ok ? hung.error : '', /no answer within 300 ms/);
  assert.ok(Date.now() - started < 4000, 'the attempt ended at its deadline, not the receiver');

  const nobody = await f.subscribe(`http://127.0.0.1:${await freePort()}/hook`);
  const refused = await f.sink.deliver(f.delivery(nobody, event));
  assert.ok(!refused.ok && refused.retry);
  assert.match(!refused.ok ? refused.error : '', /ECONNREFUSED/);
});

test('targets: event types (empty: all) and userMetadata fields that must all match; disabled ones never', async (t) => {
  const f = await fixture(t);
  const all = await f.subscribe(f.url);
  const completeOnly = await f.subscribe(f.url, { eventTypes: ['sluice.job.complete'] });
  const submittedShop = await f.subscribe(f.url, {
    eventTypes: ['sluice.job.submitted', 'sluice.job.error'],
    match: { application: 'shop' },
  });
  const shopEu = await f.subscribe(f.url, { match: { application: 'shop', region: 'eu' } });
  const off = await f.subscribe(f.url);
  await f.store.webhooks.updateWebhook(off.id, { enabled: false, disabledReason: 'paused' }, new Date());

  const shop = await f.jobEvent({ application: 'shop', region: 'us' });
  assert.deepEqual((await f.sink.targets(shop)).sort(), [all.id, submittedShop.id].sort());
  const shopEuEvent = await f.jobEvent({ application: 'shop', region: 'eu' });
  assert.deepEqual((await f.sink.targets(shopEuEvent)).sort(), [all.id, submittedShop.id, shopEu.id].sort());
  const other = await f.jobEvent({ application: 'blog' });
  assert.deepEqual(await f.sink.targets(other), [all.id]);
  const complete = { ...other, type: 'sluice.job.complete' as const };
  assert.deepEqual((await f.sink.targets(complete)).sort(), [all.id, completeOnly.id].sort());
  assert.ok(NOTIFICATION_TYPES.includes(complete.type));
  // A batch (the outbox's fan-out) gets the same answers from one read of the subscriptions.
  let reads = 0;
  const store = f.store.webhooks;
  const counting = new WebhookSink({
    store: new Proxy(store, {
      get(target, prop) {
        if (prop === 'listWebhooks') reads++;
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }),
    allowPrivate: false,
    log: silentLog,
  });
  const batch = await counting.targetsOf([shop, shopEuEvent, other, complete]);
  assert.deepEqual(
    batch.map((ids) => ids.sort()),
    [
      [all.id, submittedShop.id].sort(),
      [all.id, submittedShop.id, shopEu.id].sort(),
      [all.id],
      [all.id, completeOnly.id].sort(),
    ],
  );
  assert.equal(reads, 1, 'one read of the subscriptions for the batch');
});

test('SSRF: private, loopback, link-local and mapped targets are refused unless the server allows them', async (t) => {
  const f = await fixture(t, { allowPrivate: false });
  const event = await f.jobEvent();
  const targets = [
    `http://127.0.0.1:${f.port}/hook`,
    'http://10.1.2.3/hook',
    'http://169.254.169.254/latest/meta-data/',
    `http://[::1]:${f.port}/hook`,
    `http://[::ffff:127.0.0.1]:${f.port}/hook`,
    // A name resolving to loopback: checked on what DNS gives at the attempt.
    `http://localhost:${f.port}/hook`,
  ];
  for (const url of targets) {
    const w = await f.subscribe(url);
    const o = await f.sink.deliver(f.delivery(w, event));
    assert.ok(!o.ok, url);
    assert.match(!o.ok ? o.error : '', /^WEBHOOK_TARGET_REFUSED: /, url);
  }
  assert.equal(f.receiver.requests.length, 0, 'nothing reached the receiver');

  // The same receiver, allowed (SLUICE_WEBHOOK_ALLOW_PRIVATE=true).
  const allowed = new WebhookSink({ store: f.store.webhooks, allowPrivate: true, log: silentLog });
  const w = await f.subscribe(`http://localhost:${f.port}/hook`);
  assert.equal((await allowed.deliver(f.delivery(w, event))).ok, true);
});

test('SSRF: the URL check refuses private literals, other schemes and credentials; names by what they resolve to', async () => {
  for (const ip of [
    '0.0.0.0',
    '10.0.0.1',
    '100.64.0.1',
    '127.0.0.53',
    '169.254.169.254',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '64:ff9b::a00:1',
    '2002:c0a8:101::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
  ]) {
    assert.ok(refusedAddressReason(ip), ip);
  }
  for (const ip of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(refusedAddressReason(ip), null, ip);
  }
  for (const url of [
    'http://127.0.0.1/',
    'http://[::1]:8080/x',
    'http://[::ffff:127.0.0.1]/',
    'https://169.254.169.254/',
    'http://0x7f000001/', // WHATWG URL makes it 127.0.0.1
    'http://2130706433/',
  ]) {
    assert.throws(() => checkWebhookUrl(url, false), { code: 'WEBHOOK_TARGET_REFUSED' }, url);
    assert.ok(checkWebhookUrl(url, true), `${url} allowed with SLUICE_WEBHOOK_ALLOW_PRIVATE`);
  }
  for (const url of [
    'ftp://example.com/',
    'file:///etc/passwd',
    'http://user:pw@example.com/',
    'not a url',
  ]) {
    assert.throws(() => checkWebhookUrl(url, true), { code: 'WEBHOOK_INVALID' }, url);
  }
  assert.equal(checkWebhookUrl('https://hooks.example.com/sluice', false).host, 'hooks.example.com');

  // A name is checked on its addresses (an injected resolver: the system one cannot be told to lie).
  const resolvesTo =
    (...addresses: string[]) =>
    (_h: string, _o: dns.LookupAllOptions, cb: (e: null, a: dns.LookupAddress[]) => void) =>
      cb(
        null,
        addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
      );
  await assert.rejects(
    checkWebhookTarget('https://rebind.example/', false, resolvesTo('93.184.215.14', '10.0.0.7')),
    { code: 'WEBHOOK_TARGET_REFUSED', message: /rebind\.example resolves to 10\.0\.0\.7/ },
  );
  await assert.rejects(checkWebhookTarget('http://localhost/', false), { code: 'WEBHOOK_TARGET_REFUSED' });
  const ok = await checkWebhookTarget('https://hooks.example/', false, resolvesTo('93.184.215.14'));
  assert.equal(ok.hostname, 'hooks.example');
  await checkWebhookTarget('http://localhost/', true);
});
