// POST /v1/jobs/retry {pipeline}: every ERROR job of one pipeline runs again, each in its own transition;
// a job that changed between the listing and its retry (another client retried it) is reported in
// `failed` with its code, and the others are still retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failedJob } from './failed-job.ts';
import { buildTestApi } from './test-api.ts';

test('every ERROR job of the pipeline is retried; one retried meanwhile by another client is in failed', async (t) => {
  const { app, store } = await buildTestApi(t);
  const promo = [
    await failedJob(store, 'p1.mp4', 'promo'),
    await failedJob(store, 'p2.mp4', 'promo'),
    await failedJob(store, 'p3.mp4', 'promo'),
  ];
  const other = await failedJob(store, 'd1.mp4', 'default');
  const [victim] = promo as [string];
  // Another client retries one job after the route listed it, before the route's own retry reaches it.
  const transition = store.transition.bind(store);
  let raced = false;
  store.transition = async (id, tr, now) => {
    if (tr.type === 'retry' && id === victim && !raced) {
      raced = true;
      await transition(id, { type: 'retry', reason: 'another client' }, now);
    }
    return transition(id, tr, now);
  };
  const res = await app.inject({ method: 'POST', url: '/v1/jobs/retry', payload: { pipeline: 'promo' } });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.ok(raced);
  assert.deepEqual(
    body.retried.map((j: { id: string }) => j.id).sort(),
    promo.filter((id) => id !== victim).sort(),
  );
  for (const j of body.retried) assert.equal(j.status, 'SUBMITTED');
  assert.equal(body.failed.length, 1);
  assert.equal(body.failed[0].id, victim);
  assert.equal(body.failed[0].code, 'INVALID_TRANSITION');
  assert.ok(body.failed[0].message.length > 0);
  // Queued again (the poked scheduler may have launched one since).
  for (const id of promo) assert.notEqual((await store.get(id))?.status, 'ERROR');
  assert.equal((await store.get(other))?.status, 'ERROR', 'another pipeline is untouched');
  // Nothing left in ERROR: a second call retries nothing.
  const again = await app.inject({ method: 'POST', url: '/v1/jobs/retry', payload: { pipeline: 'promo' } });
  assert.deepEqual(again.json(), { retried: [], failed: [], more: false });
});

test('POST /v1/jobs/retry refuses a body without a pipeline name, naming the field', async (t) => {
  const { app } = await buildTestApi(t);
  for (const payload of [{}, { pipeline: '' }, { pipeline: 'promo', extra: true }]) {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs/retry', payload });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().code, 'VALIDATION_FAILED');
    assert.ok(Array.isArray(res.json().errors));
  }
  const unknown = await app.inject({ method: 'POST', url: '/v1/jobs/retry', payload: { pipeline: 'nope' } });
  assert.deepEqual(unknown.json(), { retried: [], failed: [], more: false });
});

test('two bulk retries at once retry each job exactly once between them', async (t) => {
  const { app, store, scheduler } = await buildTestApi(t);
  await scheduler.stop();
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await failedJob(store, `c${i}.mp4`, 'promo'));
  const post = () => app.inject({ method: 'POST', url: '/v1/jobs/retry', payload: { pipeline: 'promo' } });
  const [a, b] = (await Promise.all([post(), post()])).map((r) => {
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as { retried: { id: string }[]; failed: { id: string; code: string }[] };
  }) as [
    { retried: { id: string }[]; failed: { id: string; code: string }[] },
    { retried: { id: string }[]; failed: { id: string; code: string }[] },
  ];
  const retried = [...a.retried, ...b.retried].map((j) => j.id).sort();
  assert.deepEqual(retried, [...ids].sort(), 'every job once, none twice');
  for (const f of [...a.failed, ...b.failed]) {
    assert.ok(retried.includes(f.id));
    assert.ok(['INVALID_TRANSITION', 'VERSION_CONFLICT'].includes(f.code), f.code);
  }
  for (const id of ids) {
    const events = (await store.events(id)).filter(
      (e) => e.type === 'job:retried' || e.toStatus === 'SUBMITTED',
    );
    assert.equal(events.filter((e) => e.fromStatus === 'ERROR').length, 1, `${id} left ERROR once`);
  }
});
