// The capacity-pool rule, pure: which pools may claim a job, from its offer time and preemptions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  eligiblePools,
  lastEligiblePool,
  offeredPools,
  type PoolSettings,
  poolMayClaim,
} from '../../src/jobs/pool-offer.ts';

const T0 = '2024-05-01T12:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000);
const POOLS: PoolSettings = {
  pools: ['spot', 'on-demand', 'reserved'],
  fallbackMs: 60_000,
  preemptionsPerPool: 1,
};

test('a new job is offered to the first pool only, until the fallback wait passes', () => {
  const job = { offeredAt: T0, preemptions: 0 };
  assert.deepEqual(eligiblePools(POOLS, job, at(0)), { first: 0, last: 0 });
  assert.deepEqual(eligiblePools(POOLS, job, at(59.999)), { first: 0, last: 0 });
  assert.equal(poolMayClaim(POOLS, 'on-demand', job, at(59.999)), false);
});

test('each fallback wait opens the next pool too; the preferred ones stay open; the last pool caps it', () => {
  const job = { offeredAt: T0, preemptions: 0 };
  assert.deepEqual(offeredPools(POOLS, job, at(60)), ['spot', 'on-demand']);
  assert.deepEqual(offeredPools(POOLS, job, at(120)), ['spot', 'on-demand', 'reserved']);
  assert.equal(lastEligiblePool(POOLS, job, at(100_000)), 2);
  assert.equal(poolMayClaim(POOLS, 'spot', job, at(100_000)), true);
});

test('a preemption moves the offer past the pool at once, whatever the wait', () => {
  const job = { offeredAt: T0, preemptions: 1 };
  assert.deepEqual(offeredPools(POOLS, job, at(0)), ['on-demand']);
  assert.equal(poolMayClaim(POOLS, 'spot', job, at(0)), false);
  assert.deepEqual(offeredPools(POOLS, job, at(60)), ['on-demand', 'reserved']);
  assert.deepEqual(offeredPools(POOLS, { offeredAt: T0, preemptions: 7 }, at(0)), ['reserved']);
});

test('with several preemptions per pool, the offer stays until that many', () => {
  const s = { ...POOLS, preemptionsPerPool: 3 };
  assert.deepEqual(offeredPools(s, { offeredAt: T0, preemptions: 2 }, at(0)), ['spot']);
  assert.deepEqual(offeredPools(s, { offeredAt: T0, preemptions: 3 }, at(0)), ['on-demand']);
  assert.deepEqual(offeredPools(s, { offeredAt: T0, preemptions: 6 }, at(0)), ['reserved']);
});

test('a fallback wait of 0 offers every pool at once; one pool is always the only one', () => {
  assert.deepEqual(
    offeredPools({ ...POOLS, fallbackMs: 0 }, { offeredAt: T0, preemptions: 0 }, at(0)),
    POOLS.pools,
  );
  const one: PoolSettings = { pools: ['local'], fallbackMs: 60_000, preemptionsPerPool: 1 };
  assert.deepEqual(offeredPools(one, { offeredAt: T0, preemptions: 5 }, at(1e6)), ['local']);
});

test('an unknown pool never may claim; a clock before the offer counts no wait', () => {
  assert.equal(poolMayClaim(POOLS, 'gpu', { offeredAt: T0, preemptions: 0 }, at(1e6)), false);
  assert.deepEqual(eligiblePools(POOLS, { offeredAt: T0, preemptions: 0 }, at(-500)), { first: 0, last: 0 });
});
