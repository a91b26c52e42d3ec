// The notification parsers on sample payloads written from each sender's documented format, and SNS
// signature verification against a real HTTPS server on loopback serving a certificate openssl made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { parseBinary } from '../../src/ingest/notifications/cloudevents.ts';
import { normalizeEtag } from '../../src/ingest/notifications/object-reference.ts';
import { readDelivery, readSnsMessage } from '../../src/ingest/notifications/read-notification.ts';
import { decodeS3Key } from '../../src/ingest/notifications/s3-event.ts';
import { SNS_CERT_HOST, SnsVerifier } from '../../src/ingest/notifications/sns.ts';
import { normalizeSequencer } from '../../src/ingest/sequencer.ts';
import {
  AWS_S3_PUT,
  AWS_S3_TEST_EVENT,
  MINIO_DELETE,
  MINIO_PUT,
  OCI_CREATE,
  OCI_UPDATE_CE1,
  s3Record,
  sluiceEvent,
} from './notification-samples.ts';
import { snsFixture, snsNotification, snsSubscription } from './sns-fixture.ts';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const events = (headers: Record<string, string>, body: unknown) => {
  const d = readDelivery(headers, Buffer.isBuffer(body) ? body : json(body));
  assert.equal(d.kind, 'events');
  return d.notification;
};
const code = (c: string) => (err: unknown) => err instanceof SluiceError && err.code === c;

test('AWS S3: the URL-encoded key is decoded (+ is a space), eTag, size, versionId and sequencer kept', () => {
  const n = events({ 'content-type': 'application/json' }, AWS_S3_PUT);
  assert.equal(n.format, 's3');
  assert.deepEqual(n.references, [
    {
      type: 'ObjectCreated:Put',
      bucket: 'source',
      key: 'inputs/my talk(1).mp4',
      etag: 'd41d8cd98f00b204e9800998ecf8427e',
      size: 1024,
      sequencer: '0055AED6DCD90281E5',
      versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
      eventTime: '2024-05-01T12:00:00.000Z',
    },
  ]);
});

test('S3: deletes and other non-create events are ignored; the test event is acknowledged', () => {
  const n = events(
    {},
    {
      Records: [
        s3Record({ key: 'a.mp4', eventName: 'ObjectRemoved:Delete' }),
        s3Record({ key: 'b.mp4', eventName: 'ObjectCreated:CompleteMultipartUpload' }),
      ],
    },
  );
  assert.deepEqual(
    n.references.map((r) => r.key),
    ['b.mp4'],
  );
  assert.deepEqual(n.ignored, [{ type: 'ObjectRemoved:Delete', reason: 'not an object-created event' }]);
  const testEvent = events({}, AWS_S3_TEST_EVENT);
  assert.deepEqual(testEvent.references, []);
  assert.equal(testEvent.ignored[0]?.type, 's3:TestEvent');
});

test('MinIO webhook: EventName/Key wrapper, s3: prefixed event names, %2F in keys, quoted eTag', () => {
  const n = events({ 'content-type': 'application/json' }, MINIO_PUT);
  assert.equal(n.references.length, 1);
  assert.equal(n.references[0]?.key, 'inputs/a b.mp4');
  assert.equal(n.references[0]?.etag, '9b2cf535f27731c974343645a3985328');
  assert.equal(n.references[0]?.sequencer, '17B6E9C8A1D2F3E4');
  assert.deepEqual(events({}, MINIO_DELETE).references, []);
});

test('S3 key decoding: + and %20 are spaces, %2B a plus; a broken escape is EVENT_MALFORMED', () => {
  assert.equal(decodeS3Key('a+b%20c%2Bd.mp4'), 'a b c+d.mp4');
  assert.equal(decodeS3Key('caf%C3%A9.mp4'), 'café.mp4');
  assert.throws(() => decodeS3Key('bad%E0%A4%A.mp4'), code('EVENT_MALFORMED'));
  assert.throws(() => events({}, { Records: [{ eventName: 'ObjectCreated:Put' }] }), code('EVENT_MALFORMED'));
});

test('OCI Events: createobject (CloudEvents 0.1 envelope) and updateobject (1.0 structured)', () => {
  const n = events({ 'content-type': 'application/json' }, OCI_CREATE);
  assert.equal(n.format, 'oci-event');
  assert.deepEqual(n.references, [
    {
      type: 'com.oraclecloud.objectstorage.createobject',
      bucket: 'source',
      key: 'inputs/talk 2.mp4',
      etag: 'f2a5b2c6-3d1e-4c5b-9d8e-6a7b8c9d0e1f',
      eventTime: '2024-05-01T12:00:02Z',
    },
  ]);
  const u = events({ 'content-type': 'application/cloudevents+json' }, OCI_UPDATE_CE1);
  assert.equal(u.references[0]?.key, 'inputs/talk 3.mp4');
  const del = events({}, { ...OCI_CREATE, eventType: 'com.oraclecloud.objectstorage.deleteobject' });
  assert.deepEqual(del.references, []);
  assert.equal(del.ignored.length, 1);
});

test('CloudEvents structured, batch and binary mode; unknown types ignored; Sluice events without etag', () => {
  const s = events(
    { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    sluiceEvent('x.mp4', '"e1"'),
  );
  assert.deepEqual(
    s.references.map((r) => [r.key, r.etag, r.size]),
    [['x.mp4', 'e1', 10]],
  );
  const b = events({ 'content-type': 'application/cloudevents-batch+json' }, [
    sluiceEvent('a.mp4'),
    { ...sluiceEvent('b.mp4'), type: 'com.example.something' },
    OCI_UPDATE_CE1,
  ]);
  assert.equal(b.format, 'cloudevents-batch');
  assert.deepEqual(
    b.references.map((r) => [r.key, r.etag]),
    [
      ['a.mp4', undefined],
      ['inputs/talk 3.mp4', 'f2a5b2c6-3d1e-4c5b-9d8e-6a7b8c9d0e1f'],
    ],
  );
  assert.deepEqual(b.ignored, [{ type: 'com.example.something', reason: 'not an event type Sluice reads' }]);
  const headers = {
    'ce-specversion': '1.0',
    'ce-type': 'com.oraclecloud.objectstorage.createobject',
    'ce-source': 'ObjectStorage',
    'ce-id': 'abc',
    'ce-time': '2024-05-01T12:00:00Z',
    'content-type': 'application/json',
  };
  const bin = events(headers, OCI_CREATE.data);
  assert.equal(bin.format, 'cloudevents-binary');
  assert.equal(bin.references[0]?.key, 'inputs/talk 2.mp4');
  assert.throws(
    () => parseBinary({ ...headers, 'ce-id': undefined as never }, json({})),
    code('EVENT_MALFORMED'),
  );
  assert.throws(
    () => parseBinary({ ...headers, 'content-type': 'text/plain' }, Buffer.from('x')),
    code('EVENT_MALFORMED'),
  );
  assert.throws(() => events({}, { ...sluiceEvent('a.mp4'), specversion: '0.3' }), code('EVENT_MALFORMED'));
});

test('bodies that are not events: empty, not JSON, an unknown shape', () => {
  assert.throws(() => readDelivery({}, Buffer.alloc(0)), code('EVENT_MALFORMED'));
  assert.throws(() => readDelivery({}, Buffer.from('{"Records": [')), code('EVENT_MALFORMED'));
  assert.throws(() => readDelivery({}, json({ hello: 'world' })), code('EVENT_FORMAT_UNSUPPORTED'));
  assert.throws(() => readDelivery({}, json([1, 2])), code('EVENT_FORMAT_UNSUPPORTED'));
});

test('etags lose their quotes; sequencers compare after left-padding', () => {
  assert.equal(normalizeEtag('"abc-2"'), 'abc-2');
  assert.equal(normalizeEtag('W/"abc"'), 'abc');
  assert.equal(normalizeEtag('""'), undefined);
  assert.ok(normalizeSequencer('0055AED6DCD90281E5') > normalizeSequencer('55AED6DCD90281E4'));
  assert.ok(normalizeSequencer('FF') < normalizeSequencer('100'));
  assert.equal(normalizeSequencer('0A'), normalizeSequencer('a'));
  assert.throws(() => normalizeSequencer('xyz'), code('EVENT_MALFORMED'));
});

test('SNS cert host: only https://sns.<region>.amazonaws.com by default', () => {
  const v = new SnsVerifier();
  assert.ok(SNS_CERT_HOST.test('sns.eu-west-1.amazonaws.com'));
  assert.ok(SNS_CERT_HOST.test('sns.cn-north-1.amazonaws.com.cn'));
  for (const bad of [
    'http://sns.eu-west-1.amazonaws.com/x.pem',
    'https://sns.eu-west-1.amazonaws.com.evil.example/x.pem',
    'https://evil.example/sns.eu-west-1.amazonaws.com/x.pem',
    'https://user@sns.eu-west-1.amazonaws.com/x.pem',
    'https://s3.eu-west-1.amazonaws.com/x.pem',
  ]) {
    assert.throws(() => v.trustedUrl(bad, 'SigningCertURL'), code('INGEST_SIGNATURE_INVALID'), bad);
  }
});

test('SNS signatures (real HTTPS server, openssl-made cert): v1 and v2 verify; tampering, another host and another key are refused', async (t) => {
  const sns = await snsFixture(t);
  const verifier = new SnsVerifier({ certHost: /^127\.0\.0\.1$/, ca: sns.ca });
  const body = sns.sign(snsNotification(AWS_S3_PUT));
  const d = readDelivery(
    { 'x-amz-sns-message-type': 'Notification', 'content-type': 'text/plain; charset=UTF-8' },
    json(body),
  );
  assert.equal(d.kind, 'sns');
  if (d.kind !== 'sns') return;
  await verifier.verify(d.message);
  await verifier.verify(sns.sign(snsNotification(AWS_S3_PUT), '1'));
  const { Subject: _s, ...noSubject } = snsNotification(AWS_S3_PUT);
  await verifier.verify(sns.sign(noSubject));
  assert.equal(readSnsMessage(d.message).references[0]?.key, 'inputs/my talk(1).mp4');
  // The key renamed inside the Message: the signature no longer matches.
  const tampered = { ...body, Message: body.Message.replace('my+talk', 'other') };
  await assert.rejects(verifier.verify(tampered), code('INGEST_SIGNATURE_INVALID'));
  await assert.rejects(
    verifier.verify({ ...body, Timestamp: '2024-05-01T12:00:06.000Z' }),
    code('INGEST_SIGNATURE_INVALID'),
  );
  await assert.rejects(verifier.verify({ ...body, SignatureVersion: '3' }), code('INGEST_SIGNATURE_INVALID'));
  // The default host rule refuses the loopback server outright: nothing is fetched.
  await assert.rejects(new SnsVerifier({ ca: sns.ca }).verify(body), code('INGEST_SIGNATURE_INVALID'));
  // A certificate the HTTPS client does not trust (no ca): the fetch fails, retryable.
  await assert.rejects(new SnsVerifier({ certHost: /^127\.0\.0\.1$/ }).verify(body), code('SNS_UNREACHABLE'));
  const other = await snsFixture(t);
  await assert.rejects(
    verifier.verify({ ...other.sign(snsNotification(AWS_S3_PUT)), SigningCertURL: sns.certUrl }),
    code('INGEST_SIGNATURE_INVALID'),
  );
});

test('SNS SubscriptionConfirmation: verified, then confirmed by GET of SubscribeURL on an allowed host only', async (t) => {
  const sns = await snsFixture(t);
  const verifier = new SnsVerifier({ certHost: /^127\.0\.0\.1$/, ca: sns.ca });
  const m = sns.sign(snsSubscription(sns.origin));
  await verifier.verify(m);
  await verifier.confirm(m);
  assert.equal(sns.confirmations.length, 1);
  assert.match(sns.confirmations[0] ?? '', /Token=2336412f37fb687f5d51e6e2425f004ae/);
  const elsewhere = sns.sign({
    ...snsSubscription(sns.origin),
    SubscribeURL: 'https://example.com/confirm?x',
  });
  await verifier.verify(elsewhere);
  await assert.rejects(verifier.confirm(elsewhere), code('INGEST_SIGNATURE_INVALID'));
  assert.equal(sns.confirmations.length, 1);
});
