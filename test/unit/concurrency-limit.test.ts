// The semaphore behind the upload and probe bounds: at most `max` holders, a bounded FIFO queue, and a
// refusal with SERVER_BUSY and a retry hint past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimit } from '../../src/api/concurrency-limit.ts';
import { SluiceError } from '../../src/errors.ts';

const limit = (max: number, maxQueued: number) =>
  new ConcurrencyLimit({ max, maxQueued, what: 'things', retryAfterSeconds: 3 });

test('holders never exceed max; waiters get the permit in arrival order', async () => {
  const l = limit(2, 10);
  const a = await l.acquire();
  const b = await l.acquire();
  const order: string[] = [];
  const waiter = (name: string) =>
    l.acquire().then((release) => {
      order.push(name);
      return release;
    });
  const d = waiter('d');
  const c = waiter('c');
  assert.equal(l.active, 2);
  assert.equal(l.queued, 2);
  b();
  a();
  const [rd, rc] = await Promise.all([d, c]);
  assert.deepEqual(order, ['d', 'c'], 'first come, first served');
  assert.equal(l.active, 2, 'a released permit passes to the next waiter');
  rd();
  rc();
  assert.equal(l.active, 0);
  assert.equal(l.queued, 0);
});

test('releasing twice gives back one permit only', async () => {
  const l = limit(1, 0);
  const a = await l.acquire();
  a();
  a();
  assert.equal(l.active, 0);
  await l.acquire();
  assert.equal(l.active, 1);
  await assert.rejects(l.acquire(), /too many things/);
});

test('past the queue, acquire refuses at once with SERVER_BUSY and retryAfterSeconds', async () => {
  const l = limit(1, 1);
  await l.acquire();
  const queued = l.acquire();
  await assert.rejects(l.acquire(), (err: unknown) => {
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'SERVER_BUSY');
    assert.equal(err.status, 503);
    assert.deepEqual(err.details, { retryAfterSeconds: 3 });
    assert.match(err.message, /1 running and 1 waiting/);
    return true;
  });
  assert.equal(l.queued, 1);
  void queued;
});

test('run() releases the permit when the work throws', async () => {
  const l = limit(1, 0);
  await assert.rejects(
    l.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(l.active, 0);
  assert.equal(await l.run(async () => 42), 42);
});
