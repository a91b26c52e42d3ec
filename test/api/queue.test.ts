// GET /v1/queue (claim order, pools with running jobs and workers), GET /v1/jobs/counts, and the job
// list's pipeline and text filters through the API (the stores' own cases: test/contract/job-list.contract.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewJob } from '../../src/jobs/job.ts';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { buildTestApi } from './test-api.ts';

const POOLS = { pools: ['spot', 'on-demand'], fallbackMs: 3_600_000, preemptionsPerPool: 1 };

function newJob(
  key: string,
  o: { priority?: number; pipeline?: string; meta?: Record<string, string> } = {},
): NewJob {
  const pipeline = o.pipeline ?? 'default';
  return {
    pipeline,
    input: { bucket: 'source', key, size: 10, etag: `e-${key}` },
    templateName: 'abr-default',
    template: getBuiltinTemplate('abr-default'),
    destination: { bucket: 'destination', prefix: `${key}/abr-default` },
    userMetadata: o.meta ?? {},
    idempotencyKey: JSON.stringify([pipeline, key]),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
  };
}

test('GET /v1/queue: runnable jobs in claim order with positions; pools with running jobs and workers', async (t) => {
  const { app, store } = await buildTestApi(t, { pools: POOLS });
  const t0 = Date.now() - 60_000;
  const at = (s: number) => new Date(t0 + s * 1000);
  // The highest priority of all, but waiting for its retry's backoff: not in the queue yet.
  const delayed = (await store.create(newJob('delayed.mp4', { priority: 100 }), at(0))).job;
  assert.equal((await store.claimNext('tok-d', 30_000, at(1)))?.id, delayed.id);
  await store.transition(
    delayed.id,
    {
      type: 'fail',
      leaseToken: 'tok-d',
      error: { code: 'TRANSCODE_FAILED', message: 'boom' },
      retryable: true,
      retryDelayMs: 3_600_000,
    },
    at(2),
  );
  const made: Record<string, string> = {};
  for (const [i, [key, priority]] of (
    [
      ['a.mp4', 0],
      ['b.mp4', 0],
      ['c.mp4', 10],
      ['d.mp4', -5],
      ['e.mp4', 10],
      ['f.mp4', 0],
    ] as const
  ).entries()) {
    made[key] = (await store.create(newJob(key, { priority }), at(10 + i))).job.id;
  }
  // The spot pool takes the first in claim order.
  const running = await store.claimNext('tok-c', 30_000, new Date(), { pool: 'spot' });
  assert.equal(running?.input.key, 'c.mp4');
  await store.createWorkerToken(
    { id: 'wt_spot1', pool: 'spot', label: 'spot-1', hash: hashLeaseToken('a') },
    at(3),
  );
  await store.createWorkerToken(
    { id: 'wt_od1', pool: 'on-demand', label: null, hash: hashLeaseToken('b') },
    at(4),
  );
  await store.revokeWorkerToken('wt_od1', at(5));

  const res = await app.inject('/v1/queue');
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.deepEqual(
    body.jobs.map((j: { input: { key: string }; position: number }) => [j.position, j.input.key]),
    [
      [1, 'e.mp4'],
      [2, 'a.mp4'],
      [3, 'b.mp4'],
      [4, 'f.mp4'],
      [5, 'd.mp4'],
    ],
  );
  assert.equal(body.jobs[0].id, made['e.mp4']);
  assert.equal(body.jobs[0].status, 'SUBMITTED');
  assert.deepEqual(body.jobs[0].offeredTo, ['spot']);
  const spot = body.pools.find((p: { pool: string }) => p.pool === 'spot');
  assert.deepEqual(
    { queued: spot.queued, running: spot.running, demand: spot.demand },
    { queued: 5, running: 1, demand: 6 },
  );
  assert.deepEqual(spot.runningJobs, [{ id: running?.id, key: 'c.mp4', phase: null, percent: 0 }]);
  assert.deepEqual(spot.workers, [{ id: 'wt_spot1', label: 'spot-1', lastUsedAt: null, revokedAt: null }]);
  const od = body.pools.find((p: { pool: string }) => p.pool === 'on-demand');
  assert.deepEqual(od.runningJobs, []);
  assert.equal(od.workers.length, 1);
  assert.equal(od.workers[0].id, 'wt_od1');
  assert.ok(od.workers[0].revokedAt);
  // ?limit bounds the list, positions stay those of the whole queue.
  const two = (await app.inject('/v1/queue?limit=2')).json();
  assert.deepEqual(
    two.jobs.map((j: { position: number }) => j.position),
    [1, 2],
  );
  const bad = await app.inject('/v1/queue?limit=0');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'VALIDATION_FAILED');
  assert.deepEqual(bad.json().errors, [{ field: 'limit', message: bad.json().errors[0].message }]);
});

test('the queue is the order claims take: draining it claims the listed jobs in that order', async (t) => {
  const { app, store } = await buildTestApi(t);
  const t0 = Date.now() - 60_000;
  const priorities = [3, 0, 3, -1, 7, 0, 3];
  for (const [i, p] of priorities.entries()) {
    await store.create(newJob(`k${i}.mp4`, { priority: p }), new Date(t0 + Math.floor(i / 2) * 1000));
  }
  const listed = (await app.inject('/v1/queue')).json().jobs.map((j: { id: string }) => j.id);
  const claimed: string[] = [];
  for (;;) {
    const job = await store.claimNext(`tok-${claimed.length}`, 30_000, new Date());
    if (!job) break;
    claimed.push(job.id);
  }
  assert.equal(claimed.length, priorities.length);
  assert.deepEqual(listed, claimed);
});

test('GET /v1/jobs/counts: every status counted (0 included); configured pipelines, then others seen', async (t) => {
  const { app, store } = await buildTestApi(t);
  const none = { SUBMITTED: 0, PROGRESSING: 0, COMPLETE: 0, ERROR: 0, CANCELED: 0 };
  assert.deepEqual((await app.inject('/v1/jobs/counts')).json(), {
    counts: none,
    pipelines: ['default'],
    byPipeline: { default: none },
  });
  const now = new Date();
  await store.create(newJob('a.mp4'), now);
  await store.create(newJob('b.mp4', { pipeline: 'zeta' }), now);
  const c = (await store.create(newJob('c.mp4', { pipeline: 'api' }), now)).job;
  await store.transition(c.id, { type: 'cancel', reason: 'test' }, now);
  assert.deepEqual((await app.inject('/v1/jobs/counts')).json(), {
    counts: { SUBMITTED: 2, PROGRESSING: 0, COMPLETE: 0, ERROR: 0, CANCELED: 1 },
    pipelines: ['default', 'api', 'zeta'],
    byPipeline: {
      default: { ...none, SUBMITTED: 1 },
      api: { ...none, CANCELED: 1 },
      zeta: { ...none, SUBMITTED: 1 },
    },
  });
});

test('GET /v1/jobs?pipeline=&q=: exact pipeline, literal case-folded text, combined with status', async (t) => {
  const { app, store } = await buildTestApi(t);
  const now = Date.now();
  await store.create(newJob('promo/50%_OFF.mp4', { pipeline: 'promo' }), new Date(now - 3000));
  await store.create(newJob('promo/50xxoff.mp4', { pipeline: 'promo' }), new Date(now - 2000));
  await store.create(newJob('talk.mp4', { meta: { speaker: 'Ada Lovelace' } }), new Date(now - 1000));
  const keys = async (query: string) => {
    const res = await app.inject(`/v1/jobs?${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().jobs.map((j: { input: { key: string } }) => j.input.key);
  };
  assert.deepEqual(await keys('pipeline=promo'), ['promo/50xxoff.mp4', 'promo/50%_OFF.mp4']);
  assert.deepEqual(await keys(`q=${encodeURIComponent('50%_off')}`), ['promo/50%_OFF.mp4']);
  assert.deepEqual(await keys('q=lovelace'), ['talk.mp4']);
  assert.deepEqual(await keys('q=lovelace&pipeline=promo'), []);
  assert.deepEqual(await keys('q=talk&status=submitted'), ['talk.mp4']);
  assert.deepEqual(await keys('q=talk&status=ERROR'), []);
  assert.deepEqual(await keys('q='), ['talk.mp4', 'promo/50xxoff.mp4', 'promo/50%_OFF.mp4']);
  const bad = await app.inject('/v1/jobs?pipeline=');
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().errors[0].field, 'pipeline');
});
