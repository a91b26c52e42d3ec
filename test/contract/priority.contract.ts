// The JobStore contract of pipelines (issue 10): claims take the highest priority first, then the oldest;
// a job keeps its pipeline's retry policy (attempts, backoff) and its input id; an input's jobs are read
// together. Registered next to jobStoreContract by each store's test file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inputIdOf } from '../../src/jobs/input-group.ts';
import type { Job, NewJob } from '../../src/jobs/job.ts';
import { backoffDelayMs, jobRetryDelayMs } from '../../src/jobs/retry-policy.ts';
import type { Transition } from '../../src/jobs/state-machine.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import type { StoreFactory } from './job-store.contract.ts';

const TEMPLATE = getBuiltinTemplate('abr-default');
const T0 = new Date('2024-05-01T12:00:00.000Z');
const LEASE_MS = 30_000;

function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

function newJob(key: string, over: Partial<NewJob> = {}, pipeline = 'default'): NewJob {
  return {
    pipeline,
    input: { bucket: 'source', key, size: 10, etag: `etag-${key}` },
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'output', prefix: `${pipeline}/${key}` },
    userMetadata: {},
    idempotencyKey: JSON.stringify([pipeline, 'source', key, `etag-${key}`]),
    ...over,
  };
}

const failRetryable = (token: string, retryDelayMs: number): Transition => ({
  type: 'fail',
  leaseToken: token,
  error: { code: 'TRANSCODE_FAILED', message: 'boom' },
  retryable: true,
  retryDelayMs,
});

export function priorityContract(name: string, factory: StoreFactory): void {
  const open = factory.open;

  /** Claims every runnable job at `now`, in the order the store gives them. */
  async function drain(store: Awaited<ReturnType<typeof open>>['store'], now: Date, pool?: string) {
    const order: string[] = [];
    for (;;) {
      const job = await store.claimNext(`t-${order.length}`, LEASE_MS, now, pool ? { pool } : {});
      if (!job) return order;
      order.push(job.input.key);
    }
  }

  test(`${name}: a high-priority job created later is claimed before older low-priority ones`, async (t) => {
    const { store } = await open(t);
    await store.create(newJob('low-1.mp4'), at(0));
    await store.create(newJob('low-2.mp4', { priority: 0 }), at(1));
    await store.create(newJob('high.mp4', { priority: 10 }), at(2));
    await store.create(newJob('below.mp4', { priority: -5 }), at(3));
    await store.create(newJob('mid.mp4', { priority: 3 }), at(4));
    assert.deepEqual(await drain(store, at(10)), [
      'high.mp4',
      'mid.mp4',
      'low-1.mp4',
      'low-2.mp4',
      'below.mp4',
    ]);
  });

  test(`${name}: equal priority is claimed oldest first, also within one millisecond`, async (t) => {
    const { store } = await open(t);
    for (const k of ['a.mp4', 'b.mp4', 'c.mp4']) await store.create(newJob(k, { priority: 5 }), at(0));
    await store.create(newJob('d.mp4', { priority: 5 }), at(1));
    await store.create(newJob('old-low.mp4'), at(-1000));
    assert.deepEqual(await drain(store, at(10)), ['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4', 'old-low.mp4']);
  });

  test(`${name}: a claim for a capacity pool follows the same order`, async (t) => {
    const { store } = await open(t);
    await store.create(newJob('low.mp4'), at(0));
    await store.create(newJob('high.mp4', { priority: 1 }), at(1));
    assert.deepEqual(await drain(store, at(10), 'local'), ['high.mp4', 'low.mp4']);
  });

  test(`${name}: a high-priority job waiting out its backoff does not hold back runnable ones, and keeps its priority`, async (t) => {
    const { store } = await open(t);
    const { job: high } = await store.create(newJob('high.mp4', { priority: 9 }), at(0));
    const claimed = await store.claimNext('lease-1', LEASE_MS, at(1));
    assert.equal(claimed?.id, high.id);
    const retried = await store.transition(high.id, failRetryable('lease-1', 60_000), at(2));
    assert.equal(retried.status, 'SUBMITTED');
    assert.equal(retried.priority, 9);
    await store.create(newJob('low.mp4'), at(3));
    assert.deepEqual(await drain(store, at(10)), ['low.mp4'], 'only the runnable job, while the other waits');
    assert.deepEqual(await drain(store, at(62_000)), ['high.mp4'], 'then the retried one, priority kept');
  });

  test(`${name}: a job keeps its pipeline's retry policy: attempt limit and backoff`, async (t) => {
    const { store } = await open(t);
    const backoff = { initialSeconds: 7, maxSeconds: 20, multiplier: 3 };
    const { job } = await store.create(newJob('r.mp4', { maxAttempts: 2, retryBackoff: backoff }), at(0));
    const read = (await store.get(job.id)) as Job;
    assert.equal(read.maxAttempts, 2);
    assert.deepEqual(read.retryBackoff, backoff);
    const { job: plain } = await store.create(newJob('plain.mp4'), at(0));
    assert.equal((await store.get(plain.id))?.retryBackoff, null, 'no policy: the server backoff');
    assert.equal((await store.get(plain.id))?.maxAttempts, TEMPLATE.maxAttempts);
    await store.transition(plain.id, { type: 'cancel', reason: 'not this case' }, at(0));

    // Attempt 1 fails: the delay is the job's backoff (7 s step, jitter between half and all of it).
    const c1 = (await store.claimNext('lease-1', LEASE_MS, at(1))) as Job;
    assert.equal(c1.id, job.id);
    const delay1 = jobRetryDelayMs(c1, c1.attempts, () => 0, 0.999);
    assert.equal(delay1, backoffDelayMs(backoff, 1, 0.999));
    assert.ok(delay1 > 6_900 && delay1 <= 7_000, `first delay ${delay1} ms is the pipeline's 7 s step`);
    const after1 = await store.transition(job.id, failRetryable('lease-1', delay1), at(2));
    assert.equal(after1.status, 'SUBMITTED');
    assert.equal(
      await store.claimNext('early', LEASE_MS, at(2 + delay1 - 1)),
      null,
      'not before the backoff',
    );
    const c2 = (await store.claimNext('lease-2', LEASE_MS, at(2 + delay1))) as Job;
    assert.equal(c2.id, job.id);
    assert.equal(c2.attempts, 2);
    // The second step is 7 s x 3 = 21 s, capped at the policy's 20 s.
    assert.equal(
      jobRetryDelayMs(c2, c2.attempts, () => 0, 0.999999),
      20_000,
    );
    // Attempt 2 of 2 fails: no third attempt, whatever the template's limit.
    const after2 = await store.transition(job.id, failRetryable('lease-2', 1), at(3 + delay1));
    assert.equal(after2.status, 'ERROR');
    assert.equal(after2.attempts, 2);
  });

  test(`${name}: an input's jobs (one per pipeline) are read together, oldest first, and no other input's`, async (t) => {
    const { store } = await open(t);
    const { job: a } = await store.create(newJob('inputs/x.mp4', {}, 'p720'), at(0));
    const { job: b } = await store.create(newJob('inputs/x.mp4', { priority: 2 }, 'p1080'), at(1));
    await store.create(newJob('inputs/y.mp4', {}, 'p720'), at(2));
    // The same key in another version is another input.
    await store.create(
      newJob('inputs/x.mp4', {
        input: { bucket: 'source', key: 'inputs/x.mp4', size: 11, etag: 'etag-v2' },
        idempotencyKey: 'v2',
      }),
      at(3),
    );
    const id = inputIdOf({ bucket: 'source', key: 'inputs/x.mp4', etag: 'etag-inputs/x.mp4' });
    assert.equal(a.inputId, id);
    assert.equal((await store.get(b.id))?.inputId, id);
    const jobs = await store.listByInput(id);
    assert.deepEqual(
      jobs.map((j) => [j.id, j.pipeline]),
      [
        [a.id, 'p720'],
        [b.id, 'p1080'],
      ],
    );
    assert.deepEqual(await store.listByInput('in_0000000000000000'), []);
  });
}
