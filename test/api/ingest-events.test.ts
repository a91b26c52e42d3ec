// POST /v1/ingest/events through the real API (Fastify inject) on a real SQLite store and local bucket:
// authentication (none, wrong, bearer as MinIO sends it, Basic, the API token, HMAC fresh and stale,
// SNS signatures against a real HTTPS server), malformed and hostile bodies, and a retryable failure
// answered 5xx with nothing lost.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { signDelivery } from '../../src/api/ingest-signature.ts';
import { buildApi } from '../../src/api/server.ts';
import { SluiceError } from '../../src/errors.ts';
import { EventIntake } from '../../src/ingest/event-intake.ts';
import { Ingest } from '../../src/ingest/ingest.ts';
import { SnsVerifier } from '../../src/ingest/notifications/sns.ts';
import { defaultPipeline } from '../../src/ingest/pipeline.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import type { ObjectInfo } from '../../src/storage/object-store.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { FakeLauncher, silentLog, tempDir } from '../helpers.ts';
import { MINIO_PUT, OCI_CREATE, s3Record } from '../ingest/notification-samples.ts';
import { snsFixture, snsNotification, snsSubscription, TOPIC } from '../ingest/sns-fixture.ts';

const INGEST_TOKEN = 'ingest-token-0123456789';
const HMAC_SECRET = 'hmac-secret-0123456789abcdef';
const API_TOKEN = 'api-token-0123456789';

/** A LocalObjectStore whose stat fails (retryably) while `failing` is set: a store that is down. */
class FlakyStore extends LocalObjectStore {
  failing = false;
  override async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    if (this.failing) throw new SluiceError('STORAGE_FAILED', 'the bucket does not answer (test)');
    return super.stat(bucket, key);
  }
}

async function fixture(
  t: Parameters<typeof tempDir>[0],
  o: { sns?: { ca: string }; apiToken?: string; open?: boolean } = {},
) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const objects = new FlakyStore(dir);
  await objects.ensureBucket('source');
  const scheduler = new Scheduler(
    store,
    new FakeLauncher(),
    { concurrency: 1, leaseMs: 30_000, intervalMs: 60_000, stopGraceMs: 10, retentionMs: 0 },
    silentLog,
  );
  const templates = new TemplateRegistry(null);
  const ingest = new Ingest(store, objects, [defaultPipeline('abr-default')], templates, silentLog);
  const app = buildApi({
    store,
    templates,
    objects,
    ingest,
    scheduler,
    log: silentLog,
    defaultTemplate: 'abr-default',
    leaseMs: 30_000,
    heartbeatSeconds: 1,
    retryDelay: () => 0,
    version: 'test',
    apiToken: o.apiToken ?? null,
    ingestEvents: {
      intake: new EventIntake(ingest, objects, store, silentLog),
      sns: new SnsVerifier(o.sns ? { certHost: /^127\.0\.0\.1$/, ca: o.sns.ca } : {}),
      ingestToken: o.open ? null : INGEST_TOKEN,
      hmacSecret: o.open ? null : HMAC_SECRET,
      snsTopics: [TOPIC],
    },
  });
  t.after(async () => {
    await scheduler.stop();
    await app.close();
    await store.close();
  });
  const put = (key: string, body = 'not really a video') => objects.put('source', key, Readable.from([body]));
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/ingest/events',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
  const count = async () => (await store.list({ limit: 1000 })).length;
  return { app, store, objects, put, post, count };
}

const bearer = { authorization: `Bearer ${INGEST_TOKEN}` };
const s3 = (key: string, etag?: string, sequencer?: string) => ({
  Records: [s3Record({ key, ...(etag ? { etag } : {}), ...(sequencer ? { sequencer } : {}) })],
});

test('no credentials, a wrong token, a wrong scheme: 401 INGEST_UNAUTHORIZED and nothing created', async (t) => {
  const f = await fixture(t);
  const v = await f.put('a.mp4');
  const attempts: Record<string, string>[] = [
    {},
    { authorization: 'Bearer not-the-token-at-all' },
    { authorization: `Bearer ${INGEST_TOKEN}x` },
    { authorization: `Token ${INGEST_TOKEN}` },
    { authorization: `Basic ${Buffer.from('user:wrong').toString('base64')}` },
  ];
  for (const headers of attempts) {
    const r = await f.post(s3('a.mp4', v.etag), headers);
    assert.equal(r.statusCode, 401, JSON.stringify(headers));
    assert.equal(r.json().code, 'INGEST_UNAUTHORIZED');
  }
  assert.equal(await f.count(), 0);
});

test('MinIO webhook with its auth_token as a bearer token: 200 with a summary, one job', async (t) => {
  const f = await fixture(t);
  const v = await f.put('inputs/a b.mp4');
  const body = structuredClone(MINIO_PUT);
  (body.Records[0] as { s3: { object: { eTag: string } } }).s3.object.eTag = `"${v.etag}"`;
  const r = await f.post(body, bearer);
  assert.equal(r.statusCode, 200, r.body);
  const s = r.json();
  assert.deepEqual([s.format, s.received, s.created, s.duplicates, s.stale], ['s3', 1, 1, 0, 0]);
  assert.equal(s.jobs.length, 1);
  const again = (await f.post(body, bearer)).json();
  assert.deepEqual([again.created, again.duplicates], [0, 1]);
  assert.equal(await f.count(), 1);
});

test('Basic auth with the token as password (OCI, SNS URLs) and the API token are accepted', async (t) => {
  const f = await fixture(t, { apiToken: API_TOKEN });
  await f.put('inputs/talk 2.mp4');
  const basic = { authorization: `Basic ${Buffer.from(`sluice:${INGEST_TOKEN}`).toString('base64')}` };
  const r = await f.post(OCI_CREATE, basic);
  assert.equal(r.statusCode, 200, r.body);
  // OCI_CREATE's eTag is not the local object's: stale, nothing made.
  assert.equal(r.json().stale, 1);
  await f.put('b.mp4');
  const api = await f.post(s3('b.mp4'), { authorization: `Bearer ${API_TOKEN}` });
  assert.equal(api.statusCode, 200, api.body);
  assert.equal(api.json().created, 1);
  // The rest of the API still wants the API token, not the ingest token.
  assert.equal((await f.app.inject({ url: '/v1/jobs', headers: bearer })).statusCode, 401);
});

test('HMAC: a fresh signature is accepted; stale, future, altered or malformed ones are INGEST_SIGNATURE_INVALID', async (t) => {
  const f = await fixture(t);
  const v = await f.put('c.mp4');
  const body = JSON.stringify(s3('c.mp4', v.etag));
  const now = Math.floor(Date.now() / 1000);
  const ok = await f.post(body, { 'x-sluice-signature': signDelivery(HMAC_SECRET, body, now) });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().created, 1);
  const bad = [
    // Well past the 300 s tolerance either way: the check runs a moment after `now` (seconds, on a busy machine).
    signDelivery(HMAC_SECRET, body, now - 360),
    signDelivery(HMAC_SECRET, body, now + 360),
    signDelivery('another-secret-0123456789', body, now),
    signDelivery(HMAC_SECRET, `${body} `, now),
    `t=${now}`,
    'v1=00',
  ];
  for (const sig of bad) {
    const r = await f.post(body, { 'x-sluice-signature': sig });
    assert.equal(r.statusCode, 401, sig);
    assert.equal(r.json().code, 'INGEST_SIGNATURE_INVALID', sig);
  }
  // A replay of the good one within the window is only a duplicate.
  const replay = await f.post(body, { 'x-sluice-signature': signDelivery(HMAC_SECRET, body, now) });
  assert.equal(replay.json().duplicates, 1);
  assert.equal(await f.count(), 1);
});

test('malformed bodies: 400 EVENT_MALFORMED naming the problem; unknown format 415; too large 413', async (t) => {
  const f = await fixture(t);
  const notJson = await f.post('{"Records": [', bearer);
  assert.equal(notJson.statusCode, 400);
  assert.equal(notJson.json().code, 'EVENT_MALFORMED');
  assert.match(notJson.json().detail, /not JSON/);
  const noKey = await f.post(
    { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'source' }, object: {} } }] },
    bearer,
  );
  assert.equal(noKey.statusCode, 400);
  assert.match(noKey.json().detail, /Records\[0\]\.s3\.object\.key/);
  const empty = await f.post('', bearer);
  assert.equal(empty.json().code, 'EVENT_MALFORMED');
  const unknown = await f.post({ hello: 'world' }, bearer);
  assert.equal(unknown.statusCode, 415);
  assert.equal(unknown.json().code, 'EVENT_FORMAT_UNSUPPORTED');
  const text = await f.post('hello', { ...bearer, 'content-type': 'text/plain' });
  assert.equal(text.json().code, 'EVENT_MALFORMED');
  const huge = await f.post(JSON.stringify({ Records: [], pad: 'x'.repeat(1 << 20) }), bearer);
  assert.equal(huge.statusCode, 413);
  assert.equal(await f.count(), 0);
});

test('hostile keys (../x.mp4 URL-encoded, absolute, encoded separators) are refused with a code, nothing created', async (t) => {
  const f = await fixture(t);
  for (const key of [
    '..%2Fx.mp4',
    '..%2F..%2Fdestination%2Fx.mp4',
    '%2Fetc%2Fx.mp4',
    'a%252F..%252Fb.mp4',
    'a%00b.mp4',
  ]) {
    const r = await f.post(s3(key), bearer);
    assert.equal(r.statusCode, 400, key);
    assert.equal(r.json().code, 'INVALID_OBJECT_KEY', key);
  }
  const bucket = await f.post({ Records: [s3Record({ key: 'a.mp4', bucket: '../source' })] }, bearer);
  assert.equal(bucket.json().code, 'INVALID_OBJECT_KEY');
  assert.equal(await f.count(), 0);
});

test('a retryable failure (the bucket does not answer) is 5xx; the redelivery makes the job, once', async (t) => {
  const f = await fixture(t);
  const v = await f.put('d.mp4');
  const body = s3('d.mp4', v.etag, '01');
  f.objects.failing = true;
  const down = await f.post(body, bearer);
  assert.ok(down.statusCode >= 500, String(down.statusCode));
  assert.equal(down.json().code, 'STORAGE_FAILED');
  assert.equal(await f.count(), 0);
  f.objects.failing = false;
  // The sequencer was recorded by the failed delivery: the same one again is current, not stale.
  const up = await f.post(body, bearer);
  assert.equal(up.statusCode, 200);
  assert.equal(up.json().created, 1);
  assert.equal((await f.post(body, bearer)).json().duplicates, 1);
  assert.equal(await f.count(), 1);
});

test('SNS (real HTTPS cert server): subscription confirmed, signed Notification taken without a token, tampered refused', async (t) => {
  const sns = await snsFixture(t);
  const f = await fixture(t, { sns });
  const snsPost = (m: unknown, type: string) =>
    f.post(JSON.stringify(m), {
      'x-amz-sns-message-type': type,
      'content-type': 'text/plain; charset=UTF-8',
    });
  const sub = await snsPost(sns.sign(snsSubscription(sns.origin)), 'SubscriptionConfirmation');
  assert.equal(sub.statusCode, 200, sub.body);
  assert.equal(sns.confirmations.length, 1);
  const v = await f.put('inputs/my talk(1).mp4');
  const message = sns.sign(snsNotification(s3('inputs/my+talk%281%29.mp4', v.etag)));
  const r = await snsPost(message, 'Notification');
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual([r.json().format, r.json().created], ['sns', 1]);
  const tampered = { ...message, Message: message.Message.replace('my+talk', 'your+talk') };
  const t1 = await snsPost(tampered, 'Notification');
  assert.equal(t1.statusCode, 401);
  assert.equal(t1.json().code, 'INGEST_SIGNATURE_INVALID');
  const otherTopic = sns.sign({
    ...snsNotification(s3('x.mp4')),
    TopicArn: 'arn:aws:sns:eu-west-1:999999999999:theirs',
  });
  const t2 = await snsPost(otherTopic, 'Notification');
  assert.equal(t2.statusCode, 403);
  assert.equal(t2.json().code, 'SNS_TOPIC_NOT_ALLOWED');
  const unsigned = await snsPost({ ...message, Signature: '' }, 'Notification');
  assert.equal(unsigned.json().code, 'EVENT_MALFORMED');
  assert.equal(await f.count(), 1);
});

test('over HTTP: CloudEvents binary mode (ce-* headers), a structured batch, and S3 test events', async (t) => {
  const f = await fixture(t);
  const v = await f.put('inputs/bin.mp4');
  const binary = await f.post(
    { bucket: 'source', key: 'inputs/bin.mp4', etag: v.etag },
    {
      ...bearer,
      'ce-specversion': '1.0',
      'ce-type': 'io.sluice.object.created',
      'ce-id': '1',
      'ce-source': 'test',
    },
  );
  assert.equal(binary.statusCode, 200, binary.body);
  assert.deepEqual([binary.json().format, binary.json().created], ['cloudevents-binary', 1]);
  const w = await f.put('inputs/batch.mp4');
  const event = (key: string, etag?: string) => ({
    specversion: '1.0',
    id: key,
    source: 'test',
    type: 'io.sluice.object.created',
    data: { bucket: 'source', key, ...(etag ? { etag } : {}) },
  });
  const batch = await f.post([event('inputs/batch.mp4', w.etag), event('inputs/bin.mp4')], {
    ...bearer,
    'content-type': 'application/cloudevents-batch+json',
  });
  assert.deepEqual([batch.json().created, batch.json().duplicates], [1, 1]);
  const testEvent = await f.post({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'source' }, bearer);
  assert.equal(testEvent.statusCode, 200);
  assert.deepEqual([testEvent.json().received, testEvent.json().ignored], [0, 1]);
  assert.equal(await f.count(), 2);
});

test('with no ingest token, HMAC secret or API token (a loopback server), the route is open like the rest of the API', async (t) => {
  const f = await fixture(t, { open: true });
  const v = await f.put('open.mp4');
  const r = await f.post(s3('open.mp4', v.etag));
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json().created, 1);
});
