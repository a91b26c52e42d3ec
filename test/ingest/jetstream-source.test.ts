// JetStreamSource against the machine's real NATS JetStream (127.0.0.1:4222), each test on a stream
// and subject of its own (removed after): duplicates (the same Nats-Msg-Id, and not), a delivery whose
// job was recorded but never acknowledged (the process died), a retryable failure (nak, redelivered)
// and an unreadable message (terminated, never redelivered) each end at exactly one job per version.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { SluiceError } from '../../src/errors.ts';
import { EventIntake } from '../../src/ingest/event-intake.ts';
import { Ingest } from '../../src/ingest/ingest.ts';
import { JetStreamSource } from '../../src/ingest/jetstream-source.ts';
import { readDelivery } from '../../src/ingest/notifications/read-notification.ts';
import { defaultPipeline } from '../../src/ingest/pipeline.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import type { ObjectInfo } from '../../src/storage/object-store.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { silentLog, tempDir, waitFor } from '../helpers.ts';
import { s3Record, sluiceEvent } from './notification-samples.ts';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

class FlakyStore extends LocalObjectStore {
  failures = 0;
  override async stat(bucket: string, key: string): Promise<ObjectInfo | null> {
    if (this.failures > 0) {
      this.failures--;
      throw new SluiceError('STORAGE_FAILED', 'the bucket does not answer (test)');
    }
    return super.stat(bucket, key);
  }
}

/** Counts every delivery it handles, by stream sequence. */
class CountingSource extends JetStreamSource {
  readonly deliveries = new Map<number, number>();
  override async handle(m: JsMsg): Promise<void> {
    this.deliveries.set(m.seq, (this.deliveries.get(m.seq) ?? 0) + 1);
    return super.handle(m);
  }
}

async function fixture(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const store = new SqliteJobStore(path.join(dir, 'sluice.db'));
  await store.migrate();
  const objects = new FlakyStore(dir);
  await objects.ensureBucket('source');
  const ingest = new Ingest(
    store,
    objects,
    [defaultPipeline('abr-default')],
    new TemplateRegistry(null),
    silentLog,
  );
  const intake = new EventIntake(ingest, objects, store, silentLog);
  const id = randomBytes(4).toString('hex');
  const options = {
    url: NATS_URL,
    stream: `SLUICE_TEST_${id}`,
    subject: `sluice.test.${id}`,
    consumer: 'sluice-ingest',
    ackWaitMs: 1000,
    retryDelayMs: 100,
  };
  const nc = await connect({ servers: NATS_URL }).catch((err: Error) => {
    throw new Error(`NATS JetStream must run at ${NATS_URL} for this test: ${err.message}`);
  });
  const jsm = await jetstreamManager(nc);
  const sources: JetStreamSource[] = [];
  t.after(async () => {
    for (const s of sources) await s.stop();
    await jsm.streams.delete(options.stream).catch(() => {});
    await nc.close();
    await store.close();
  });
  const source = () => {
    const s = new CountingSource(options, intake, silentLog);
    sources.push(s);
    return s;
  };
  const js = jetstream(nc);
  const publish = (body: unknown, msgID?: string) =>
    js.publish(options.subject, JSON.stringify(body), msgID ? { msgID } : {});
  const put = (key: string, body: string) => objects.put('source', key, Readable.from([body]));
  /** Every message acknowledged (or terminated): nothing pending, nothing awaiting an ack. */
  const drained = () =>
    waitFor(
      'the consumer to acknowledge every message',
      async () => {
        const [si, ci] = await Promise.all([
          jsm.streams.info(options.stream),
          jsm.consumers.info(options.stream, options.consumer).catch(() => null),
        ]);
        return (
          ci !== null &&
          ci.num_pending === 0 &&
          ci.num_ack_pending === 0 &&
          ci.ack_floor.stream_seq === si.state.last_seq
        );
      },
      30_000,
    );
  const jobs = () => store.list({ limit: 1000 });
  return { options, jsm, js, nc, source, publish, put, drained, jobs, objects, intake };
}

test('NATS JetStream (real server): 3 objects, each published 4 times (2 with one Nats-Msg-Id, 2 without) -> 3 jobs', async (t) => {
  const f = await fixture(t);
  const versions = [];
  for (const k of ['a', 'b', 'c']) versions.push(await f.put(`inputs/${k}.mp4`, `content of ${k}`));
  // Made before anything is published: the stream and the durable consumer are created by start().
  const s = f.source();
  await s.start();
  for (const v of versions) {
    const body = { Records: [s3Record({ key: v.key, etag: v.etag })] };
    const one = await f.publish(body, `id-${v.key}`);
    const dup = await f.publish(body, `id-${v.key}`);
    assert.equal(dup.duplicate, true);
    assert.equal(dup.seq, one.seq);
    await f.publish(body);
    await f.publish(sluiceEvent(v.key, v.etag));
  }
  await f.drained();
  const all = await f.jobs();
  assert.deepEqual(all.map((j) => j.input.key).sort(), ['inputs/a.mp4', 'inputs/b.mp4', 'inputs/c.mp4']);
  assert.equal((await f.jsm.streams.info(f.options.stream)).state.messages, 9);
});

test('NATS JetStream: a job recorded but never acknowledged (the process died) is redelivered and makes no second job', async (t) => {
  const f = await fixture(t);
  const v = await f.put('inputs/crash.mp4', 'crash');
  const first = f.source();
  await first.start();
  await first.stop(); // the durable consumer exists now; nothing consumed yet
  await f.publish({ Records: [s3Record({ key: v.key, etag: v.etag })] });
  // A process that took the message, recorded its job, and died before its ack.
  const consumer = await f.js.consumers.get(f.options.stream, f.options.consumer);
  const m = await consumer.next({ expires: 5000 });
  assert.ok(m, 'a message to take');
  const d = readDelivery({}, Buffer.from(m.data));
  assert.equal(d.kind, 'events');
  if (d.kind === 'events') assert.equal((await f.intake.take(d.notification, 'dying process')).created, 1);
  // The next process on the same durable consumer gets it again after ack_wait.
  const next = f.source() as CountingSource;
  await next.start();
  await f.drained();
  assert.equal(next.deliveries.get(m.seq), 1);
  assert.equal((await f.jobs()).length, 1);
});

test('NATS JetStream: a retryable failure is naked and redelivered; an unreadable message is terminated once', async (t) => {
  const f = await fixture(t);
  const v = await f.put('inputs/flaky.mp4', 'flaky');
  const s = f.source() as CountingSource;
  await s.start();
  f.objects.failures = 2;
  const good = await f.publish({ Records: [s3Record({ key: v.key, etag: v.etag, sequencer: '0A' })] });
  const garbage = await f.publish('{"Records": [');
  const alien = await f.publish({ hello: 'world' });
  await f.drained();
  assert.equal(s.deliveries.get(good.seq), 3);
  assert.equal(s.deliveries.get(garbage.seq), 1);
  assert.equal(s.deliveries.get(alien.seq), 1);
  assert.equal((await f.jobs()).length, 1);
});

test('NATS JetStream: binary-mode CloudEvents (ce-* headers) are read from message headers', async (t) => {
  const f = await fixture(t);
  const v = await f.put('inputs/bin.mp4', 'binary');
  const s = f.source();
  await s.start();
  const h = natsHeaders();
  h.set('ce-specversion', '1.0');
  h.set('ce-type', 'io.sluice.object.created');
  h.set('ce-id', '1');
  h.set('ce-source', 'test');
  h.set('content-type', 'application/json');
  await f.js.publish(f.options.subject, JSON.stringify({ bucket: 'source', key: v.key, etag: v.etag }), {
    headers: h,
  });
  await f.drained();
  assert.deepEqual(
    (await f.jobs()).map((j) => j.input.key),
    ['inputs/bin.mp4'],
  );
});

test('NATS that does not answer is NATS_UNREACHABLE at start()', async (t) => {
  const f = await fixture(t);
  const s = new JetStreamSource({ ...f.options, url: 'nats://127.0.0.1:1' }, f.intake, silentLog);
  await assert.rejects(
    s.start(),
    (err: unknown) => err instanceof SluiceError && err.code === 'NATS_UNREACHABLE',
  );
});
