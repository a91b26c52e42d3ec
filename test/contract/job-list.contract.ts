// The JobStore contract of the job list's filters (the console, issue 12): status, pipeline and a text
// search over the job id, the input key and userMetadata values, combined; LIKE's wildcards in the text
// match themselves; counts by status and pipeline. Registered next to jobStoreContract by each store's
// test file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import type { StoreFactory } from './job-store.contract.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = Date.parse('2024-05-01T12:00:00.000Z');

function newJob(key: string, pipeline: string, userMetadata: Record<string, string> = {}): NewJob {
  return {
    pipeline,
    input: { bucket: 'source', key, size: 10, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: `${pipeline}/${key}` },
    userMetadata,
    idempotencyKey: JSON.stringify([pipeline, 'source', key]),
  };
}

export function jobListContract(name: string, factory: StoreFactory): void {
  async function seeded(t: Parameters<StoreFactory['open']>[0]) {
    const { store } = await factory.open(t);
    const ids: Record<string, string> = {};
    const rows: [string, string, Record<string, string>][] = [
      ['videos/Summer-Trip.mp4', 'default', { customer: 'ACME Corp' }],
      ['videos/50%_off.mp4', 'default', {}],
      ['videos/50xxoff.mp4', 'promo', {}],
      ['audio/podcast.mp3', 'promo', { show: 'Weekly_Talk', n: '7' }],
      ['videos/back\\slash.mp4', 'api', { note: 'a\\b' }],
    ];
    let i = 0;
    for (const [key, pipeline, meta] of rows) {
      ids[key] = (await store.create(newJob(key, pipeline, meta), new Date(T0 + i++ * 1000))).job.id;
    }
    return { store, ids };
  }
  const keys = (jobs: { input: { key: string } }[]) => jobs.map((j) => j.input.key);

  test(`${name}: list by pipeline is exact, and combines with status`, async (t) => {
    const { store, ids } = await seeded(t);
    assert.deepEqual(keys(await store.list({ pipeline: 'promo' })), [
      'audio/podcast.mp3',
      'videos/50xxoff.mp4',
    ]);
    assert.deepEqual(await store.list({ pipeline: 'prom' }), []);
    await store.transition(
      ids['audio/podcast.mp3'] as string,
      { type: 'cancel', reason: 'test' },
      new Date(T0 + 10_000),
    );
    assert.deepEqual(keys(await store.list({ pipeline: 'promo', status: 'SUBMITTED' })), [
      'videos/50xxoff.mp4',
    ]);
    assert.deepEqual(keys(await store.list({ pipeline: 'default', status: 'CANCELED' })), []);
  });

  test(`${name}: q finds a case-folded substring of the input key, a userMetadata value or the job id`, async (t) => {
    const { store, ids } = await seeded(t);
    assert.deepEqual(keys(await store.list({ q: 'summer-TRIP' })), ['videos/Summer-Trip.mp4']);
    assert.deepEqual(keys(await store.list({ q: 'acme' })), ['videos/Summer-Trip.mp4']);
    // A metadata key is not a value; neither is the bucket or the template.
    assert.deepEqual(await store.list({ q: 'customer' }), []);
    assert.deepEqual(await store.list({ q: 'abr-default' }), []);
    const id = ids['audio/podcast.mp3'] as string;
    assert.deepEqual(keys(await store.list({ q: id.slice(4, 14).toUpperCase() })), ['audio/podcast.mp3']);
    assert.deepEqual(keys(await store.list({ q: 'videos/', pipeline: 'default', limit: 1 })), [
      'videos/50%_off.mp4',
    ]);
  });

  test(`${name}: LIKE wildcards and the escape character in q match only themselves`, async (t) => {
    const { store } = await seeded(t);
    // Unescaped, `50%_off` would match 50xxoff too, and `_` the whole table.
    assert.deepEqual(keys(await store.list({ q: '50%_off' })), ['videos/50%_off.mp4']);
    assert.deepEqual(keys(await store.list({ q: '%' })), ['videos/50%_off.mp4']);
    // (Every job id has a `_`: job_…; 0_ is in no id.)
    assert.deepEqual(keys(await store.list({ q: '0%_' })), ['videos/50%_off.mp4']);
    assert.deepEqual(keys(await store.list({ q: '0_' })), []);
    assert.deepEqual(keys(await store.list({ q: 'y_T' })), ['audio/podcast.mp3']);
    assert.deepEqual(keys(await store.list({ q: '\\' })), ['videos/back\\slash.mp4']);
    assert.deepEqual(keys(await store.list({ q: "' OR 1=1 --" })), []);
  });

  test(`${name}: counts by status and pipeline, one row per pair`, async (t) => {
    const { store, ids } = await seeded(t);
    await store.transition(
      ids['videos/50xxoff.mp4'] as string,
      { type: 'cancel', reason: 'test' },
      new Date(T0 + 10_000),
    );
    const counts = (await store.countByStatusAndPipeline()).sort((a, b) =>
      `${a.pipeline}${a.status}`.localeCompare(`${b.pipeline}${b.status}`),
    );
    assert.deepEqual(counts, [
      { status: 'SUBMITTED', pipeline: 'api', jobs: 1 },
      { status: 'SUBMITTED', pipeline: 'default', jobs: 2 },
      { status: 'CANCELED', pipeline: 'promo', jobs: 1 },
      { status: 'SUBMITTED', pipeline: 'promo', jobs: 1 },
    ]);
  });

  test(`${name}: listQueued is the claim order (priority, then age, then insertion), runnable only, the first n`, async (t) => {
    const { store } = await factory.open(t);
    const made: string[] = [];
    const job = (key: string, priority: number) => ({ ...newJob(key, 'default'), priority });
    // Two at the same instant: insertion order breaks the tie, as a claim does.
    for (const [key, priority, at] of [
      ['old-low.mp4', 0, 0],
      ['new-high.mp4', 5, 3],
      ['tie-1.mp4', 1, 2],
      ['tie-2.mp4', 1, 2],
      ['newest-low.mp4', 0, 4],
    ] as const) {
      made.push((await store.create(job(key, priority), new Date(T0 + at * 1000))).job.id);
    }
    const now = new Date(T0 + 10_000);
    const keys = async (n: number) => (await store.listQueued(now, n)).map((j) => j.input.key);
    assert.deepEqual(await keys(10), [
      'new-high.mp4',
      'tie-1.mp4',
      'tie-2.mp4',
      'old-low.mp4',
      'newest-low.mp4',
    ]);
    assert.deepEqual(await keys(2), ['new-high.mp4', 'tie-1.mp4'], 'the front, however deep the queue');
    // What claims would take, in that order.
    for (const key of await keys(10)) {
      assert.equal((await store.claimNext(`tok-${key}`, 30_000, now))?.input.key, key);
    }
    assert.deepEqual(await keys(10), [], 'claimed jobs leave the queue');
    assert.deepEqual(await store.listQueued(new Date(T0 - 1000), 10), [], 'not before they may run');
  });
}
