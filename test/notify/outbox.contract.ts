// The outbox against a real job store (registered for SQLite and PostgreSQL in outbox.test.ts): fan-out
// once per sink, target and event from a persisted position; retries on a schedule, Retry-After, a target
// gone for good, a server killed mid-attempt; nothing lost or doubled across a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import { partDraft } from '../../src/jobs/job-parts.ts';
import type { ServiceJobStore } from '../../src/jobs/open-job-store.ts';
import type { JobCloudEvent } from '../../src/notify/cloud-event.ts';
import { matchesEvent } from '../../src/notify/event-filter.ts';
import { Outbox, type OutboxOptions, SINKS_CONSUMER } from '../../src/notify/outbox.ts';
import type { Delivery, DeliveryOutcome, Sink } from '../../src/notify/sink.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { silentLog } from '../helpers.ts';

export type OpenStore = (t: { after: (fn: () => Promise<void>) => void }) => Promise<ServiceJobStore>;

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');

function newJob(key: string, userMetadata: Record<string, string> = {}): NewJob {
  return {
    pipeline: 'default',
    input: { bucket: 'source', key, size: 1234, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: key.replace(/\.[^.]+$/, '') },
    userMetadata,
    idempotencyKey: `default|source|${key}|etag-${key}`,
  };
}

/** A sink that records what it is given and answers what the test scripts (ok by default). */
class RecordingSink implements Sink {
  readonly delivered: Delivery[] = [];
  readonly disabled: string[] = [];
  script: ((d: Delivery) => DeliveryOutcome | Promise<DeliveryOutcome>) | null = null;
  constructor(
    readonly name: string,
    private readonly pick: (e: JobCloudEvent) => string[] = () => ['t1'],
  ) {}
  async targets(e: JobCloudEvent) {
    return this.pick(e);
  }
  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    this.delivered.push(d);
    return this.script ? this.script(d) : { ok: true, statusCode: 200 };
  }
  async disableTarget(target: string) {
    this.disabled.push(target);
  }
}

/** A clock the test moves. */
function clock(start = T0) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * Fans out until the outbox's position reaches the log's head. On PostgreSQL the log is read below the
 * oldest write transaction still running anywhere on the server (other tests' too), so a read may
 * briefly return less than what committed; it never skips.
 */
async function caughtUp(store: ServiceJobStore, outbox: Outbox): Promise<void> {
  const head = await store.lastEventId();
  for (let i = 0; i < 500; i++) {
    await outbox.fanOut();
    const at = await store.deliveries.outboxPosition(SINKS_CONSUMER);
    if (at !== null && (head === null || at >= head)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('the outbox did not catch up with the event log');
}

function outboxOf(store: ServiceJobStore, sinks: Sink[], o: OutboxOptions = {}) {
  return new Outbox(
    store,
    store.deliveries,
    sinks,
    { statusUpdateMs: 0, random: () => 0.5, ...o },
    silentLog,
  );
}

/** Runs the job to COMPLETE: submitted, progressing, input information, complete (+ internal events). */
async function runJob(store: ServiceJobStore, key: string, at: Date, meta: Record<string, string> = {}) {
  const { job } = await store.create(newJob(key, meta), at);
  const claimed = await store.claimNext(`tok-${key}`, 30_000, at);
  assert.equal(claimed?.id, job.id);
  const lease = { leaseToken: `tok-${key}`, leaseMs: 30_000 };
  await store.transition(job.id, { type: 'start', ...lease }, at);
  await store.transition(
    job.id,
    { type: 'heartbeat', ...lease, phase: 'TRANSCODING', inputMedia: { container: 'mp4' } as never },
    at,
  );
  await store.transition(job.id, { type: 'heartbeat', ...lease, progress: { percent: 50 } }, at);
  await store.transition(job.id, { type: 'complete', leaseToken: lease.leaseToken, outputs: [] }, at);
  return job.id;
}

export function outboxContract(name: string, open: OpenStore): void {
  test(`${name} outbox: each told event once per sink and target, with its summary at the event; internal events stay home`, async (t) => {
    const store = await open(t);
    const c = clock();
    const hooks = new RecordingSink('webhook', (e) =>
      e.type === 'sluice.job.complete' ? ['a', 'b'] : ['a'],
    );
    const mail = new RecordingSink('email', (e) => (e.type.endsWith('complete') ? ['ops'] : []));
    const outbox = outboxOf(store, [hooks, mail], { now: c.now });
    await caughtUp(store, outbox);
    const id = await runJob(store, 'talk.mp4', c.now(), { application: 'courses' });
    await caughtUp(store, outbox);
    await caughtUp(store, outbox); // nothing new: nothing doubled
    while ((await outbox.deliverDue()) > 0) await outbox.settled();
    assert.ok(
      hooks.delivered.every((d) => d.jobId === id),
      'nothing of the job from before the first start',
    );
    const types = hooks.delivered.filter((d) => d.target === 'a').map((d) => d.event.type);
    assert.deepEqual(types, [
      'sluice.job.submitted',
      'sluice.job.progressing',
      'sluice.input.information',
      'sluice.job.complete',
    ]);
    assert.deepEqual(
      hooks.delivered.filter((d) => d.target === 'b').map((d) => d.event.type),
      ['sluice.job.complete'],
    );
    assert.deepEqual(
      mail.delivered.map((d) => [d.target, d.event.type]),
      [['ops', 'sluice.job.complete']],
    );
    const submitted = hooks.delivered[0]?.event;
    assert.equal(submitted?.data.job?.status, 'SUBMITTED', 'the summary as it was at the event, not now');
    assert.deepEqual(submitted?.data.job?.userMetadata, { application: 'courses' });
    const complete = hooks.delivered.find((d) => d.event.type === 'sluice.job.complete')?.event;
    assert.equal(complete?.data.job?.status, 'COMPLETE');
    assert.equal(complete?.data.job?.progress.percent, 100);
    assert.equal(complete?.subject, `jobs/${id}`);
    const ids = hooks.delivered.map((d) => `${d.target}:${d.event.id}`);
    assert.equal(new Set(ids).size, ids.length, 'no event twice to one target');
    const listed = await store.deliveries.listDeliveries({ jobId: id, limit: 50 });
    assert.equal(listed.length, 6);
    assert.ok(listed.every((d) => d.status === 'DELIVERED' && d.attempts === 1 && d.deliveredAt));
  });

  test(`${name} outbox: a chunked job is told; its parts (child jobs) are not`, async (t) => {
    const store = await open(t);
    const c = clock();
    const hooks = new RecordingSink('webhook');
    const outbox = outboxOf(store, [hooks], { now: c.now });
    await caughtUp(store, outbox);
    const { job } = await store.create(newJob('long.mp4'), c.now());
    await store.claimNext('tok-p', 30_000, c.now());
    const chunks = [
      {
        index: 0,
        firstFrame: 0,
        endFrame: 250,
        firstSegment: 0,
        segments: 5,
        startSeconds: 0,
        endSeconds: 10,
        encodeFromSeconds: 0,
        seekSeconds: 0,
      },
      {
        index: 1,
        firstFrame: 250,
        endFrame: null,
        firstSegment: 5,
        segments: null,
        startSeconds: 10,
        endSeconds: 20,
        encodeFromSeconds: 8,
        seekSeconds: 7,
      },
    ];
    const split = await store.transition(
      job.id,
      { type: 'split', leaseToken: 'tok-p', chunks, inputMedia: { container: 'mp4' } as never },
      c.now(),
    );
    const { job: part } = await store.create(partDraft(split, { kind: 'audio' }), c.now());
    await store.claimNext('tok-a', 30_000, c.now());
    await store.transition(part.id, { type: 'complete', leaseToken: 'tok-a', outputs: [] }, c.now());
    await store.transition(job.id, { type: 'parts-complete', outputs: [] }, c.now());
    await caughtUp(store, outbox);
    while ((await outbox.deliverDue()) > 0) await outbox.settled();
    assert.deepEqual(
      hooks.delivered.map((d) => [d.jobId, d.event.type]),
      [
        [job.id, 'sluice.job.submitted'],
        [job.id, 'sluice.job.progressing'],
        [job.id, 'sluice.job.complete'],
      ],
    );
    // The live stream leaves parts out too, unless it follows that part by its id.
    const partEvents = (await store.eventsAfter(null, 100, { jobId: part.id })).filter(
      (e) => e.type === 'job:complete',
    );
    assert.equal(partEvents[0]?.job?.parentId, job.id);
    assert.equal(matchesEvent({}, partEvents[0] as never), false);
    assert.equal(matchesEvent({ jobIds: [part.id] }, partEvents[0] as never), true);
  });

  test(`${name} outbox: a sink that decides a batch at once is asked once per fan-out, with the told events in log order`, async (t) => {
    const store = await open(t);
    const c = clock();
    const calls: string[][] = [];
    const batched: Sink = {
      name: 'webhook',
      targets: async () => assert.fail('targetsOf is preferred'),
      targetsOf: async (events) => {
        calls.push(events.map((e) => e.type));
        return events.map(() => ['t1']);
      },
      deliver: async () => ({ ok: true }),
    };
    const outbox = outboxOf(store, [batched], { now: c.now });
    const id = await runJob(store, 'batch.mp4', c.now());
    await caughtUp(store, outbox);
    assert.deepEqual(calls, [
      ['sluice.job.submitted', 'sluice.job.progressing', 'sluice.input.information', 'sluice.job.complete'],
    ]);
    const made = await store.deliveries.listDeliveries({ jobId: id });
    assert.equal(made.length, 4);
  });

  test(`${name} outbox: events made before its first pass (the server not yet leading) are delivered too`, async (t) => {
    const store = await open(t);
    const c = clock();
    const early = await runJob(store, 'early.mp4', c.now());
    const sink = new RecordingSink('webhook');
    const outbox = outboxOf(store, [sink], { now: c.now });
    await caughtUp(store, outbox);
    while ((await outbox.deliverDue()) > 0) await outbox.settled();
    assert.deepEqual(
      sink.delivered.map((d) => [d.jobId, d.event.type]),
      [
        [early, 'sluice.job.submitted'],
        [early, 'sluice.job.progressing'],
        [early, 'sluice.input.information'],
        [early, 'sluice.job.complete'],
      ],
    );
  });

  test(`${name} outbox: a restart goes on from the persisted position: nothing lost, nothing fanned out twice`, async (t) => {
    const store = await open(t);
    const c = clock();
    const sink = new RecordingSink('webhook');
    const first = outboxOf(store, [sink], { now: c.now });
    await caughtUp(store, first);
    const a = await runJob(store, 'a.mp4', c.now());
    await caughtUp(store, first);
    // The server dies before delivering; more happens while it is down.
    const b = await runJob(store, 'b.mp4', c.now());
    const second = outboxOf(store, [sink], { now: c.now });
    await caughtUp(store, second);
    while ((await second.deliverDue()) > 0) await second.settled();
    const perJob = (id: string) => sink.delivered.filter((d) => d.jobId === id).length;
    assert.equal(perJob(a), 4);
    assert.equal(perJob(b), 4);
    assert.equal(sink.delivered.length, 8);
  });

  test(`${name} outbox: failures retried on the backoff schedule, Retry-After taken, FAILED when the window ends; redelivery sends the same event`, async (t) => {
    const store = await open(t);
    const c = clock();
    const sink = new RecordingSink('webhook', (e) => (e.type === 'sluice.job.submitted' ? ['t1'] : []));
    const retry = { baseMs: 1_000, maxMs: 8_000, windowMs: 60_000 };
    const outbox = outboxOf(store, [sink], { now: c.now, retry });
    await caughtUp(store, outbox);
    await store.create(newJob('x.mp4'), c.now());
    await caughtUp(store, outbox);
    const outcomes: DeliveryOutcome[] = [
      { ok: false, retry: true, error: 'connect ECONNREFUSED' },
      { ok: false, retry: true, error: 'HTTP 503', statusCode: 503, retryAfterMs: 20_000 },
    ];
    sink.script = () => outcomes.shift() ?? { ok: false, retry: true, error: 'HTTP 500', statusCode: 500 };
    const step = async () => {
      const n = await outbox.deliverDue();
      await outbox.settled();
      return n;
    };
    assert.equal(await step(), 1);
    let [d] = await store.deliveries.listDeliveries({});
    assert.equal(d?.status, 'PENDING');
    // Attempt 1 failed: step 1 s, jitter 0.5 → 750 ms.
    assert.equal(d?.nextAttemptAt, new Date(c.now().getTime() + 750).toISOString());
    assert.equal(await step(), 0, 'not due yet');
    c.advance(750);
    assert.equal(await step(), 1);
    [d] = await store.deliveries.listDeliveries({});
    assert.equal(d?.nextAttemptAt, new Date(c.now().getTime() + 20_000).toISOString(), 'Retry-After: 20 s');
    assert.equal(d?.lastStatusCode, 503);
    for (let i = 0; i < 30 && d?.status === 'PENDING'; i++) {
      c.advance(new Date(d.nextAttemptAt).getTime() - c.now().getTime());
      await step();
      [d] = await store.deliveries.listDeliveries({});
    }
    assert.equal(d?.status, 'FAILED', 'given up once the window ended');
    assert.ok(d && c.now().getTime() - new Date(d.createdAt).getTime() >= 60_000, 'after the whole window');
    const attempts = await store.deliveries.deliveryAttempts(d?.id ?? '');
    assert.equal(attempts.length, d?.attempts);
    assert.deepEqual(
      attempts.slice(0, 3).map((a) => [a.attempt, a.ok, a.statusCode, a.error]),
      [
        [1, false, null, 'connect ECONNREFUSED'],
        [2, false, 503, 'HTTP 503'],
        [3, false, 500, 'HTTP 500'],
      ],
    );
    // A user redelivers: the same event (id and bytes) goes again, and this time it is taken.
    sink.script = null;
    const again = await store.deliveries.redeliver(d?.id ?? '', c.now());
    assert.equal(again?.status, 'PENDING');
    assert.equal(await step(), 1);
    const last = sink.delivered[sink.delivered.length - 1];
    assert.deepEqual(last?.event, sink.delivered[0]?.event);
    [d] = await store.deliveries.listDeliveries({});
    assert.equal(d?.status, 'DELIVERED');
    assert.equal(await store.deliveries.redeliver('dlv_missing', c.now()), null);
  });

  test(`${name} outbox: a target gone for good (410) is disabled and its pending deliveries discarded; a refusal is FAILED at once`, async (t) => {
    const store = await open(t);
    const c = clock();
    const sink = new RecordingSink('webhook', () => ['gone', 'picky']);
    const outbox = outboxOf(store, [sink], { now: c.now, concurrency: 1 });
    await caughtUp(store, outbox);
    await runJob(store, 'y.mp4', c.now());
    await caughtUp(store, outbox);
    sink.script = (d) =>
      d.target === 'gone'
        ? { ok: false, retry: true, error: 'HTTP 410', statusCode: 410, disableTarget: true }
        : { ok: false, retry: false, error: 'HTTP 400: bad payload', statusCode: 400 };
    while ((await outbox.deliverDue()) > 0) await outbox.settled();
    assert.deepEqual(sink.disabled, ['gone']);
    const all = await store.deliveries.listDeliveries({ limit: 100 });
    const gone = all.filter((d) => d.target === 'gone');
    assert.equal(gone.filter((d) => d.status === 'FAILED').length, 1, 'the one attempted');
    assert.equal(gone.filter((d) => d.status === 'DISCARDED').length, 3, 'the rest never sent');
    assert.equal(sink.delivered.filter((d) => d.target === 'gone').length, 1);
    const picky = all.filter((d) => d.target === 'picky');
    assert.ok(picky.every((d) => d.status === 'FAILED' && d.attempts === 1));
  });

  test(`${name} outbox: a server killed mid-attempt leaves its delivery held, then tried again by the next one`, async (t) => {
    const store = await open(t);
    const c = clock();
    const hung = new RecordingSink('webhook');
    hung.script = () => new Promise<DeliveryOutcome>(() => {}); // never answers: the process dies here
    const first = outboxOf(store, [hung], { now: c.now, holdMs: 10_000 });
    await caughtUp(store, first);
    await store.create(newJob('z.mp4'), c.now());
    await caughtUp(store, first);
    assert.equal(await first.deliverDue(), 1);
    const sink = new RecordingSink('webhook');
    const second = outboxOf(store, [sink], { now: c.now, holdMs: 10_000 });
    assert.equal(await second.deliverDue(), 0, 'held by the attempt in flight');
    c.advance(10_001);
    assert.equal(await second.deliverDue(), 1, 'the hold lapsed');
    await second.settled();
    assert.equal(sink.delivered.length, 1);
    assert.equal(
      sink.delivered[0]?.event.id,
      hung.delivered[0]?.event.id,
      'the same event id: receivers dedupe',
    );
  });

  test(`${name} outbox running: started, it delivers what happens as it happens; stopped, it stops`, async (t) => {
    const store = await open(t);
    const sink = new RecordingSink('webhook');
    const outbox = outboxOf(store, [sink], { pollMs: 20 });
    outbox.start();
    t.after(() => outbox.stop());
    // The first pass starts at the head; wait for it before making news.
    for (let i = 0; i < 500 && (await store.deliveries.outboxPosition(SINKS_CONSUMER)) === null; i++)
      await new Promise((r) => setTimeout(r, 10));
    const id = await runJob(store, 'live.mp4', new Date());
    for (let i = 0; i < 1000 && sink.delivered.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      sink.delivered.map((d) => [d.jobId, d.event.type]),
      [
        [id, 'sluice.job.submitted'],
        [id, 'sluice.job.progressing'],
        [id, 'sluice.input.information'],
        [id, 'sluice.job.complete'],
      ],
    );
    await outbox.stop();
    await store.create(newJob('after-stop.mp4'), new Date());
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.delivered.length, 4, 'nothing after stop');
  });

  test(`${name} outbox: a follower (not the leader) delivers nothing`, async (t) => {
    const store = await open(t);
    const sink = new RecordingSink('webhook');
    const outbox = outboxOf(store, [sink], { pollMs: 20, isLeader: () => false });
    outbox.start();
    t.after(() => outbox.stop());
    await runJob(store, 'f.mp4', new Date());
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(sink.delivered.length, 0);
    assert.equal(await store.deliveries.outboxPosition(SINKS_CONSUMER), 0, 'where the migration put it');
  });

  test(`${name} STATUS_UPDATE: a PROGRESSING job gets a job:status-update event every interval with its progress; others none`, async (t) => {
    const store = await open(t);
    const c = clock();
    const sink = new RecordingSink('webhook');
    const outbox = outboxOf(store, [sink], { now: c.now, statusUpdateMs: 10_000 });
    await caughtUp(store, outbox);
    const { job } = await store.create(newJob('long.mp4'), c.now());
    await store.create(newJob('queued.mp4'), c.now());
    await store.claimNext('tok', 60_000, c.now());
    await store.transition(
      job.id,
      {
        type: 'heartbeat',
        leaseToken: 'tok',
        leaseMs: 60_000,
        phase: 'TRANSCODING',
        progress: { percent: 12.5 },
      },
      c.now(),
    );
    const { StatusUpdates } = await import('../../src/notify/status-updates.ts');
    const updates = new StatusUpdates(store, 10_000);
    assert.equal(await updates.tick(c.now()), 0, 'first seen: the interval starts');
    c.advance(9_999);
    assert.equal(await updates.tick(c.now()), 0);
    c.advance(1);
    assert.equal(await updates.tick(c.now()), 1);
    c.advance(10_000);
    assert.equal(await updates.tick(c.now()), 1);
    const events = (await store.events(job.id)).filter((e) => e.type === 'job:status-update');
    assert.equal(events.length, 2);
    assert.deepEqual(
      { phase: events[0]?.data.phase, percent: events[0]?.data.percent },
      { phase: 'TRANSCODING', percent: 12.5 },
    );
    assert.equal(await store.recordStatusUpdate('job_missing', c.now()), false);
    await caughtUp(store, outbox);
    while ((await outbox.deliverDue()) > 0) await outbox.settled();
    const told = sink.delivered.filter((d) => d.event.type === 'sluice.job.status_update');
    assert.equal(told.length, 2);
    assert.equal(told[0]?.event.data.job?.phase, 'TRANSCODING');
  });
}
