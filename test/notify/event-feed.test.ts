// The shared event feed (src/notify/event-feed.ts) on a real SQLite store and a real PostgreSQL schema:
// one poll loop however many subscribers; a subscriber joining while an event commits between its
// catch-up read and the feed's read gets it once (the hand-over the top of event-feed.ts argues); the
// loop stops with the last subscriber; close() ends every subscription. (On PostgreSQL the log is read
// below the oldest write transaction on the whole server: another test holding one open delays these
// events, so the waits keep the default 60 s.)
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import type { LoggedEvent } from '../../src/notify/cloud-event.ts';
import { EventFeed, type FeedSubscriber } from '../../src/notify/event-feed.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { silentLog, tempDir, waitFor } from '../helpers.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const newJob = (key: string): NewJob => ({
  pipeline: 'default',
  input: { bucket: 'source', key, size: 1, etag: `etag-${key}` },
  templateName: TEMPLATE.name,
  template: TEMPLATE,
  destination: { bucket: 'destination', prefix: key },
  userMetadata: {},
  idempotencyKey: `default|source|${key}|etag-${key}`,
});

const stores: [string, (t: Parameters<typeof tempDir>[0]) => Promise<JobStore>][] = [
  [
    'SQLite',
    async (t) => {
      const s = new SqliteJobStore(path.join(await tempDir(t), 'sluice.db'));
      await s.migrate();
      t.after(() => s.close());
      return s;
    },
  ],
  [
    'PostgreSQL',
    async (t) => {
      await requirePostgres();
      let s: PostgresJobStore | undefined;
      const schema = freshSchema(t, async () => s?.close());
      s = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
      await s.migrate();
      return s;
    },
  ],
];

/** A subscriber that records what it got. */
function recorder(after: number | null, jobId?: string) {
  const events: LoggedEvent[] = [];
  let ended = false;
  const s: FeedSubscriber = {
    after,
    ...(jobId ? { jobId } : {}),
    matches: (e) => jobId === undefined || e.jobId === jobId,
    matchesJob: () => true,
    event: (e) => events.push(e),
    progress: () => {},
    end: () => {
      ended = true;
    },
  };
  return { s, events, ended: () => ended };
}

/** The store, counting the feed's reads: unfiltered (the shared read) and by job (catch-up). */
function counted(store: JobStore, onCatchUp?: () => Promise<void>) {
  const calls = { shared: 0, catchUp: 0, progress: 0 };
  const wrapped = Object.create(store) as JobStore;
  wrapped.eventsAfter = async (afterId, limit, filter) => {
    const got = await store.eventsAfter(afterId, limit, filter);
    if (filter?.jobId) {
      calls.catchUp++;
      await onCatchUp?.();
    } else calls.shared++;
    return got;
  };
  wrapped.list = (f) => {
    if (f.status === 'PROGRESSING') calls.progress++;
    return store.list(f);
  };
  return { wrapped, calls };
}

for (const [name, open] of stores) {
  test(`${name}: an event committed between a subscriber's catch-up read and the feed's read arrives once`, async (t) => {
    const store = await open(t);
    const now = new Date();
    const { job } = await store.create(newJob('a.mp4'), now);
    let inject: (() => Promise<void>) | undefined = async () => {
      inject = undefined;
      await store.transition(job.id, { type: 'cancel', reason: 'test' }, new Date());
    };
    const { wrapped } = counted(store, () => inject?.() ?? Promise.resolve());
    const feed = new EventFeed(wrapped, silentLog, { pollMs: 20 });
    t.after(() => feed.close());
    const r = recorder(null, job.id);
    feed.subscribe(r.s);
    await waitFor('created and canceled', async () => r.events.length >= 2 && inject === undefined);
    const all = (await store.eventsAfter(null, 100, { jobId: job.id })).map((e) => e.id);
    assert.equal(all.length, 2);
    // A later event too (live), and nothing twice.
    const { job: b } = await store.create(newJob('b.mp4'), new Date());
    const other = recorder(null);
    feed.subscribe(other.s);
    await waitFor("b's created, from start", async () => other.events.some((e) => e.jobId === b.id));
    assert.deepEqual(
      r.events.map((e) => e.id),
      all,
    );
  });

  test(`${name}: one shared read per tick however many subscribers; the loop stops with the last one`, async (t) => {
    const store = await open(t);
    const { wrapped, calls } = counted(store);
    const feed = new EventFeed(wrapped, silentLog, { pollMs: 20 });
    t.after(() => feed.close());
    const subs = Array.from({ length: 20 }, () => recorder(null));
    const unsubscribe = subs.map((r) => feed.subscribe(r.s));
    await store.create(newJob('a.mp4'), new Date());
    await waitFor('all got it', async () => subs.every((r) => r.events.length === 1));
    const before = { ...calls };
    await waitFor('ten more ticks', async () => calls.progress >= before.progress + 10);
    const shared = calls.shared - before.shared;
    const ticks = calls.progress - before.progress;
    assert.ok(shared <= ticks + 1, `${shared} shared reads in ${ticks} ticks, for 20 subscribers`);
    for (const u of unsubscribe) u();
    await waitFor('the loop stopped', async () => {
      const n = calls.shared;
      await new Promise((r) => setTimeout(r, 100));
      return calls.shared === n;
    });
    // A new subscriber starts it again.
    const late = recorder(null);
    feed.subscribe(late.s);
    await waitFor('the late one caught up', async () => late.events.length === 1);
    await feed.close();
    assert.ok(late.ended() && subs.every((r) => !r.ended()), 'close ends the subscribed, not the gone');
  });
}

test('PostgreSQL: a replica streams the events another replica writes (the feed polls the shared store)', async (t) => {
  await requirePostgres();
  const opened: PostgresJobStore[] = [];
  const schema = freshSchema(t, async () => {
    for (const s of opened) await s.close();
  });
  const replica = () => {
    const s = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 4 });
    opened.push(s);
    return s;
  };
  const a = replica();
  await a.migrate();
  const b = replica();
  const feed = new EventFeed(b, silentLog, { pollMs: 20 });
  t.after(() => feed.close());
  const r = recorder(null);
  feed.subscribe(r.s);
  const { job } = await a.create(newJob('a.mp4'), new Date());
  await a.transition(job.id, { type: 'cancel', reason: 'test' }, new Date());
  await waitFor('both events on the other replica', async () => r.events.length >= 2);
  assert.deepEqual(
    r.events.map((e) => e.type),
    ['job:created', 'job:canceled'],
  );
});
