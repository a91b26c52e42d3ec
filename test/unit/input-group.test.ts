// Inputs and retry backoff, pure: the input id is the object version's alone; the aggregate status of an
// input's jobs; a pipeline backoff with today's values is today's server backoff.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aggregateStatus, INPUT_ID, inputIdOf } from '../../src/jobs/input-group.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, jobRetryDelayMs } from '../../src/jobs/retry-policy.ts';
import { retryDelayMs } from '../../src/jobs/state-machine.ts';

describe('inputIdOf', () => {
  test('one id per (bucket, key, etag); any part changed is another input', () => {
    const id = inputIdOf({ bucket: 'source', key: 'inputs/a.mp4', etag: 'e1' });
    assert.match(id, INPUT_ID);
    assert.equal(inputIdOf({ bucket: 'source', key: 'inputs/a.mp4', etag: 'e1' }), id);
    for (const other of [
      { bucket: 'other', key: 'inputs/a.mp4', etag: 'e1' },
      { bucket: 'source', key: 'inputs/a.mp4', etag: 'e2' },
      { bucket: 'source', key: 'inputs/a.mp4 ', etag: 'e1' },
      // The separator cannot be forged: keys and bucket names hold no newline.
      { bucket: 'source', key: 'inputs/a.mp4\ne1', etag: '' },
    ])
      assert.notEqual(inputIdOf(other), id, JSON.stringify(other));
  });
});

describe('aggregateStatus', () => {
  const cases: [Parameters<typeof aggregateStatus>[0], string][] = [
    [['SUBMITTED', 'SUBMITTED'], 'SUBMITTED'],
    [['PROGRESSING', 'SUBMITTED'], 'PROGRESSING'],
    [['COMPLETE', 'SUBMITTED'], 'PROGRESSING'],
    [['ERROR', 'PROGRESSING'], 'PROGRESSING'],
    [['COMPLETE', 'COMPLETE'], 'COMPLETE'],
    [['COMPLETE', 'ERROR'], 'ERROR'],
    [['CANCELED', 'ERROR'], 'ERROR'],
    [['CANCELED', 'CANCELED'], 'CANCELED'],
    [['COMPLETE', 'CANCELED'], 'PARTIAL'],
    [['COMPLETE'], 'COMPLETE'],
  ];
  for (const [statuses, want] of cases)
    test(`${statuses.join(' + ')} -> ${want}`, () => assert.equal(aggregateStatus(statuses), want));
});

describe('retry backoff', () => {
  test("a policy of today's values gives today's server delays", () => {
    for (const attempt of [1, 2, 3, 5, 9, 30])
      for (const rand of [0, 0.3, 0.999])
        assert.equal(backoffDelayMs(DEFAULT_BACKOFF, attempt, rand), retryDelayMs(attempt, rand));
  });
  test('initial delay, multiplier and cap, with jitter between half and all of the step', () => {
    const b = { initialSeconds: 1, maxSeconds: 10, multiplier: 3 };
    assert.deepEqual(
      [1, 2, 3, 4].map((a) => backoffDelayMs(b, a, 0)),
      [500, 1_500, 4_500, 5_000],
    );
    assert.equal(backoffDelayMs(b, 4, 0.999999), 10_000);
  });
  test("a job without a policy gets the server's delay", () => {
    assert.equal(
      jobRetryDelayMs({ retryBackoff: null }, 2, () => 1234),
      1234,
    );
    assert.equal(
      jobRetryDelayMs(null, 2, () => 1234),
      1234,
    );
    assert.equal(
      jobRetryDelayMs({ retryBackoff: { initialSeconds: 4, maxSeconds: 4, multiplier: 1 } }, 9, () => 0, 0),
      2_000,
    );
  });
});
