// Issue 11's stream must-show, through a real `sluice serve` (its own process, real ffmpeg on a 1 s lavfi
// clip) publishing to the machine's NATS JetStream: a durable pull consumer reads the job's events in
// order, SUBMITTED → PROGRESSING → INPUT_INFORMATION → … → COMPLETE, with exactly the CloudEvent ids the
// job's own event log gives (GET /v1/jobs/:id/events through cloudEventId/notificationTypeOf), and a
// publish repeated with one of those ids is a duplicate ack, not a second message.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobEvent } from '../../src/jobs/job.ts';
import { cloudEventId, type JobCloudEvent, notificationTypeOf } from '../../src/notify/cloud-event.ts';
import { clip } from '../helpers.ts';
import { NATS_URL, natsFixture } from '../nats.ts';
import { allComplete, startRealServer } from '../real-server.ts';

test('a job through sluice serve: its events on JetStream in log order, with its event ids, once each', async (t) => {
  const f = await natsFixture(t);
  const server = await startRealServer(t, {
    env: {
      SLUICE_EVENTS_NATS_URL: NATS_URL,
      SLUICE_EVENTS_NATS_STREAM: f.stream,
      SLUICE_EVENTS_NATS_SUBJECT_PREFIX: f.prefix,
      SLUICE_EVENTS_NATS_DUPLICATE_WINDOW_SECONDS: '600',
    },
  });
  const sample = await clip({ width: 160, height: 90, seconds: 1, fps: 10 });
  await fs.copyFile(sample, path.join(server.source, 'talk.mp4'));
  const [job] = await allComplete(server, 1);
  assert.ok(job);

  const res = await fetch(`${server.url}/v1/jobs/${job.id}/events`);
  const { events } = (await res.json()) as { events: JobEvent[] };
  const told = events.filter((e) => notificationTypeOf(e.type) !== null);
  const expected = told.map((e) => ({ id: cloudEventId(e), type: notificationTypeOf(e.type) }));
  assert.ok(expected.length >= 4, JSON.stringify(expected));

  const read = await f.readAll('downstream', expected.length, 30_000);
  const got = read.map((m) => {
    const e = m.data as unknown as JobCloudEvent;
    return { id: e.id, type: e.type, subject: m.subject, msgId: m.headers['Nats-Msg-Id'] };
  });
  assert.deepEqual(
    got.map(({ id, type }) => ({ id, type })),
    expected,
    'the same events, in the same order, as the job event log',
  );
  for (const g of got) {
    assert.equal(g.msgId, g.id, 'Nats-Msg-Id is the CloudEvent id');
    assert.equal(g.subject, `${f.prefix}.${g.type.replace(/^sluice\./, '')}`);
  }
  const types = got.map((g) => g.type);
  assert.equal(types[0], 'sluice.job.submitted');
  assert.equal(types[1], 'sluice.job.progressing');
  assert.equal(types[2], 'sluice.input.information');
  assert.equal(types.at(-1), 'sluice.job.complete');
  const last = read.at(-1)?.data as unknown as JobCloudEvent;
  assert.equal(last.data.job?.status, 'COMPLETE');
  assert.equal(last.data.job?.id, job.id);
  assert.ok((last.data.job?.outputs.length ?? 0) > 0);

  // A second publish of an event already there (a redelivery after a lost ack): not stored twice.
  const before = (await f.jsm.streams.info(f.stream)).state.messages;
  const ack = await f.js.publish(`${f.prefix}.job.complete`, JSON.stringify(last), { msgID: last.id });
  assert.equal(ack.duplicate, true);
  assert.equal((await f.jsm.streams.info(f.stream)).state.messages, before);
  // Nothing more for the job than its events (no event published twice by the server either).
  assert.equal(before, expected.length);
});
