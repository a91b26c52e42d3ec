// The JetStream sink against the machine's real NATS JetStream: it makes its stream when missing (with
// the duplicate window asked for) and uses an existing one as it is, publishes each event as a structured
// CloudEvent on <prefix>.<type> with Nats-Msg-Id = the CloudEvent id (a repeated delivery is a duplicate
// ack, not a second message), and a publish that cannot be stored is a retryable failure that the next
// attempt gets through once the stream is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nanos } from '@nats-io/transport-node';
import { SluiceError } from '../../src/errors.ts';
import type { JobSummary } from '../../src/jobs/job-summary.ts';
import { type JobCloudEvent, toCloudEvent } from '../../src/notify/cloud-event.ts';
import { JetStreamSink, subjectOf } from '../../src/notify/jetstream-sink.ts';
import type { Delivery } from '../../src/notify/sink.ts';
import { silentLog } from '../helpers.ts';
import { NATS_URL, natsFixture } from '../nats.ts';
import { freePort } from '../real-server.ts';

const job = {
  id: 'job_00000000000000aa',
  status: 'SUBMITTED',
  userMetadata: { application: 'lms' },
} as unknown as JobSummary;

function event(id: number, type: string): JobCloudEvent {
  const e = toCloudEvent({
    id,
    jobId: job.id,
    type,
    fromStatus: null,
    toStatus: null,
    at: new Date(1_700_000_000_000 + id).toISOString(),
    data: {},
    job,
  });
  assert.ok(e);
  return e;
}

function delivery(e: JobCloudEvent, target: string): Delivery {
  const now = new Date().toISOString();
  return {
    id: `d${e.id}`,
    sink: 'jetstream',
    target,
    eventId: e.data.event.seq,
    jobId: job.id,
    event: e,
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
    lastStatusCode: null,
    lastError: null,
  };
}

test('subjects: <prefix>.<type without sluice.>', () => {
  assert.equal(subjectOf('sluice.events', 'sluice.job.complete'), 'sluice.events.job.complete');
  assert.equal(subjectOf('sluice.events', 'sluice.input.information'), 'sluice.events.input.information');
});

test('publishes CloudEvents in log order with Nats-Msg-Id; a repeat is a duplicate; the stream made if missing', async (t) => {
  const f = await natsFixture(t);
  const sink = new JetStreamSink(
    {
      url: NATS_URL,
      stream: f.stream,
      subjectPrefix: f.prefix,
      duplicateWindowMs: 600_000,
      maxAgeMs: 3_600_000,
      publishTimeoutMs: 5000,
    },
    silentLog,
  );
  t.after(() => sink.close());
  await sink.start();
  const info = await f.jsm.streams.info(f.stream);
  assert.deepEqual(info.config.subjects, [`${f.prefix}.>`]);
  assert.equal(info.config.duplicate_window, nanos(600_000));
  assert.equal(info.config.max_age, nanos(3_600_000));

  const events = [event(1, 'job:created'), event(2, 'job:claimed'), event(5, 'job:complete')];
  for (const e of events) assert.deepEqual(await sink.targets(e), [f.stream]);
  // Handed over together and out of order (as one outbox pass may start them): published in log order.
  const outcomes = await Promise.all([...events].reverse().map((e) => sink.deliver(delivery(e, f.stream))));
  assert.deepEqual(outcomes, [{ ok: true }, { ok: true }, { ok: true }]);
  // The outbox retrying the last one (its ack was lost): JetStream drops it as a duplicate.
  assert.deepEqual(await sink.deliver(delivery(events[2] as JobCloudEvent, f.stream)), { ok: true });
  const again = await f.js.publish(`${f.prefix}.job.complete`, JSON.stringify(events[2]), {
    msgID: events[2]?.id,
  });
  assert.equal(again.duplicate, true, 'the same msg id within the window is a duplicate ack');
  assert.equal((await f.jsm.streams.info(f.stream)).state.messages, 3, 'three stored, not five');

  const read = await f.readAll('reader', 3);
  assert.deepEqual(
    read.map((m) => [m.subject, (m.data as { id: string }).id]),
    [
      [`${f.prefix}.job.submitted`, events[0]?.id],
      [`${f.prefix}.job.progressing`, events[1]?.id],
      [`${f.prefix}.job.complete`, events[2]?.id],
    ],
  );
  const first = read[0];
  assert.ok(first);
  assert.deepEqual(first.data, JSON.parse(JSON.stringify(events[0])), 'the CloudEvent as it is');
  assert.equal(first.headers['Nats-Msg-Id'], events[0]?.id);
  assert.equal(first.headers['content-type'], 'application/cloudevents+json');
  assert.equal(first.headers['ce-specversion'], '1.0');
  assert.equal(first.headers['ce-id'], events[0]?.id);
  assert.equal(first.headers['ce-type'], 'sluice.job.submitted');
  assert.equal(first.headers['ce-source'], 'sluice');
  assert.equal(first.headers['ce-subject'], `jobs/${job.id}`);
});

test('an existing stream is used as it is; a deleted stream fails the publish (retry) and is made again', async (t) => {
  const f = await natsFixture(t);
  await f.jsm.streams.add({
    name: f.stream,
    subjects: [`${f.prefix}.job.*`],
    duplicate_window: nanos(30_000),
  });
  const sink = new JetStreamSink(
    {
      url: NATS_URL,
      stream: f.stream,
      subjectPrefix: f.prefix,
      duplicateWindowMs: 600_000,
      maxAgeMs: 0,
      publishTimeoutMs: 1000,
    },
    silentLog,
  );
  t.after(() => sink.close());
  await sink.start();
  const info = await f.jsm.streams.info(f.stream);
  assert.deepEqual(info.config.subjects, [`${f.prefix}.job.*`], "the operator's subjects kept");
  assert.equal(info.config.duplicate_window, nanos(30_000), "the operator's window kept");
  assert.deepEqual(await sink.deliver(delivery(event(1, 'job:created'), f.stream)), { ok: true });

  await f.jsm.streams.delete(f.stream);
  const lost = await sink.deliver(delivery(event(2, 'job:claimed'), f.stream));
  assert.equal(lost.ok, false);
  assert.ok(!lost.ok);
  assert.equal(lost.retry, true, lost.error);
  assert.match(lost.error, new RegExp(f.stream));
  // The next attempt checks the stream again, makes it, and gets through.
  assert.deepEqual(await sink.deliver(delivery(event(2, 'job:claimed'), f.stream)), { ok: true });
  const read = await f.readAll('after', 1);
  assert.deepEqual(
    read.map((m) => (m.data as { id: string }).id),
    [event(2, 'job:claimed').id],
  );
});

test('no NATS at the URL: start fails with NATS_UNREACHABLE naming the setting', async () => {
  const sink = new JetStreamSink(
    {
      url: `nats://127.0.0.1:${await freePort()}`,
      stream: 'SLUICE_EVENTS_NOWHERE',
      subjectPrefix: 'nowhere.events',
      duplicateWindowMs: 60_000,
      maxAgeMs: 0,
      publishTimeoutMs: 500,
    },
    silentLog,
  );
  await assert.rejects(
    sink.start(),
    (err: unknown) =>
      err instanceof SluiceError &&
      err.code === 'NATS_UNREACHABLE' &&
      /SLUICE_EVENTS_NATS_URL/.test(err.message),
  );
  await sink.close();
});
