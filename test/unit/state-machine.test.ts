// The job state machine, pure: every transition's effect on the job and the event recorded with it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import {
  FINAL_STATUSES,
  isJobStatus,
  JOB_STATUSES,
  type Job,
  type JobOutput,
  type JobStatus,
} from '../../src/jobs/job.ts';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import { applyTransition, retryDelayMs, type TransitionResult } from '../../src/jobs/state-machine.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';

const T0 = new Date('2024-05-01T12:00:00.000Z');
const T1 = new Date('2024-05-01T12:00:10.000Z');
const T2 = new Date('2024-05-01T12:00:20.000Z');
const LEASE_MS = 30_000;
const TEMPLATE = getBuiltinTemplate('abr-default');

function makeJob(over: Partial<Job> = {}): Job {
  return {
    id: 'job-1',
    status: 'SUBMITTED',
    phase: null,
    progress: { percent: 0, fps: null, speed: null, etaSeconds: null },
    attempts: 0,
    maxAttempts: 3,
    runAfter: T0.toISOString(),
    leaseHash: null,
    leaseUntil: null,
    createdAt: T0.toISOString(),
    startedAt: null,
    finishedAt: null,
    updatedAt: T0.toISOString(),
    pipeline: 'default',
    input: { bucket: 'source', key: 'videos/clip.mp4', etag: 'e1' },
    inputMedia: null,
    templateName: TEMPLATE.name,
    template: TEMPLATE,
    destination: { bucket: 'destination', prefix: 'videos/clip' },
    outputs: [],
    error: null,
    stderrTail: null,
    userMetadata: {},
    idempotencyKey: 'default|source|videos/clip.mp4|e1',
    versionGroup: 'default|source|videos/clip.mp4',
    outputsReplacedBy: null,
    pool: null,
    preemptions: 0,
    offeredAt: T0.toISOString(),
    priority: 0,
    retryBackoff: null,
    inputId: 'in_0000000000000000',
    parentId: null,
    part: null,
    split: null,
    ...over,
  };
}

/** A job a worker holds: claimed with `token` at T0 (attempt `attempts`). */
function progressing(token = 'lease-a', over: Partial<Job> = {}): Job {
  return makeJob({
    status: 'PROGRESSING',
    attempts: 1,
    leaseHash: hashLeaseToken(token),
    leaseUntil: new Date(T0.getTime() + LEASE_MS).toISOString(),
    startedAt: T0.toISOString(),
    ...over,
  });
}

function isCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function assertEventMatches(before: Job, r: TransitionResult): void {
  assert.equal(r.event.fromStatus, before.status, 'event.fromStatus is the status before');
  assert.equal(r.event.toStatus, r.job.status, 'event.toStatus is the status after');
}

const OUTPUTS: JobOutput[] = [
  { type: 'hls', bucket: 'destination', key: 'videos/clip/master.m3u8' },
  { type: 'mp4', bucket: 'destination', key: 'videos/clip/clip.mp4', size: 1234 },
];

describe('job model', () => {
  test('isJobStatus accepts exactly the five public statuses', () => {
    for (const s of JOB_STATUSES) assert.equal(isJobStatus(s), true, s);
    for (const s of ['submitted', 'RUNNING', '', 'QUEUED']) assert.equal(isJobStatus(s), false, s);
  });

  test('final statuses are COMPLETE, ERROR and CANCELED; SUBMITTED and PROGRESSING are not final', () => {
    assert.deepEqual([...FINAL_STATUSES].sort(), ['CANCELED', 'COMPLETE', 'ERROR']);
  });
});

describe('claim', () => {
  test('claim moves SUBMITTED to PROGRESSING, counts an attempt and sets the lease', () => {
    const job = makeJob({ attempts: 1, error: { code: 'TRANSCODE_FAILED', message: 'earlier try' } });
    const r = applyTransition(job, { type: 'claim', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1);
    assert.equal(r.job.status, 'PROGRESSING');
    assert.equal(r.job.attempts, 2);
    assert.equal(r.job.leaseHash, hashLeaseToken('lease-a'), 'only the hash of the token is kept');
    assert.equal(r.job.leaseUntil, new Date(T1.getTime() + LEASE_MS).toISOString());
    assert.equal(r.job.startedAt, T1.toISOString());
    assert.equal(r.job.error, null, 'a new attempt clears the previous attempt error');
    assert.equal(r.job.updatedAt, T1.toISOString());
    assert.equal(r.event.type, 'job:claimed');
    assert.deepEqual(r.event.data, { attempt: 2 });
    assertEventMatches(job, r);
  });

  test('claim sets startedAt only once: a retried job keeps its first start time', () => {
    const job = makeJob({ attempts: 1, startedAt: T0.toISOString() });
    const r = applyTransition(job, { type: 'claim', leaseToken: 'lease-b', leaseMs: LEASE_MS }, T2);
    assert.equal(r.job.startedAt, T0.toISOString());
  });

  test('claim does not mutate the job it was given', () => {
    const job = makeJob();
    const copy = structuredClone(job);
    applyTransition(job, { type: 'claim', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1);
    assert.deepEqual(job, copy);
  });

  for (const status of ['PROGRESSING', 'COMPLETE', 'ERROR', 'CANCELED'] as const) {
    test(`claim of a ${status} job is an INVALID_TRANSITION`, () => {
      const job = makeJob({ status, leaseHash: status === 'PROGRESSING' ? hashLeaseToken('lease-a') : null });
      assert.throws(
        () => applyTransition(job, { type: 'claim', leaseToken: 'lease-b', leaseMs: LEASE_MS }, T1),
        isCode('INVALID_TRANSITION'),
      );
    });
  }
});

describe('fencing: only the current lease holder may report', () => {
  const reports = (token: string) =>
    [
      ['start', { type: 'start', leaseToken: token, leaseMs: LEASE_MS }],
      ['heartbeat', { type: 'heartbeat', leaseToken: token, leaseMs: LEASE_MS, progress: { percent: 50 } }],
      ['complete', { type: 'complete', leaseToken: token, outputs: OUTPUTS }],
      [
        'fail',
        {
          type: 'fail',
          leaseToken: token,
          error: { code: 'TRANSCODE_FAILED', message: 'boom' },
          retryable: true,
          retryDelayMs: 1000,
        },
      ],
    ] as const;

  for (const [name, transition] of reports('lease-wrong')) {
    test(`${name} with a token that is not the job's lease is refused with LEASE_LOST`, () => {
      assert.throws(() => applyTransition(progressing('lease-a'), transition, T1), isCode('LEASE_LOST'));
    });
  }

  for (const [name, transition] of reports('lease-a')) {
    test(`${name} from a worker whose lease was replaced by a newer attempt is refused with LEASE_LOST`, () => {
      // Attempt 1 (lease-a) went silent; the job was retried and attempt 2 now holds lease-b.
      const first = applyTransition(
        makeJob(),
        { type: 'claim', leaseToken: 'lease-a', leaseMs: LEASE_MS },
        T0,
      );
      const lost = applyTransition(
        first.job,
        {
          type: 'fail',
          leaseToken: 'lease-a',
          error: { code: 'WORKER_LOST', message: 'no heartbeat' },
          retryable: true,
          retryDelayMs: 0,
        },
        T1,
      );
      const second = applyTransition(
        lost.job,
        { type: 'claim', leaseToken: 'lease-b', leaseMs: LEASE_MS },
        T1,
      );
      assert.equal(second.job.leaseHash, hashLeaseToken('lease-b'));
      assert.throws(() => applyTransition(second.job, transition, T2), isCode('LEASE_LOST'));
    });
  }

  for (const [name, transition] of reports('lease-a')) {
    test(`${name} after the job was completed by its lease holder is refused with LEASE_LOST`, () => {
      const done = applyTransition(
        progressing('lease-a'),
        { type: 'complete', leaseToken: 'lease-a', outputs: [] },
        T1,
      );
      assert.throws(() => applyTransition(done.job, transition, T2), isCode('LEASE_LOST'));
    });
  }

  test('a job waiting in SUBMITTED accepts no worker report, even one with its old token', () => {
    const job = makeJob({ leaseHash: hashLeaseToken('lease-a') });
    assert.throws(
      () => applyTransition(job, { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1),
      isCode('LEASE_LOST'),
    );
  });
});

describe('start and heartbeat', () => {
  test('start enters PROBING and renews the lease', () => {
    const job = progressing('lease-a');
    const r = applyTransition(job, { type: 'start', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1);
    assert.equal(r.job.status, 'PROGRESSING');
    assert.equal(r.job.phase, 'PROBING');
    assert.equal(r.job.leaseUntil, new Date(T1.getTime() + LEASE_MS).toISOString());
    assert.equal(r.event.type, 'job:started');
    assertEventMatches(job, r);
  });

  test('heartbeat renews leaseUntil from now and merges progress into the previous progress', () => {
    const job = progressing('lease-a', {
      phase: 'TRANSCODING',
      progress: { percent: 10, fps: 50, speed: 2, etaSeconds: 30 },
    });
    const r = applyTransition(
      job,
      { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: 5_000, progress: { percent: 40, etaSeconds: 12 } },
      T2,
    );
    assert.equal(r.job.leaseUntil, new Date(T2.getTime() + 5_000).toISOString());
    assert.deepEqual(r.job.progress, { percent: 40, fps: 50, speed: 2, etaSeconds: 12 });
    assert.equal(r.job.leaseHash, hashLeaseToken('lease-a'), 'only the hash of the token is kept');
    assert.equal(r.job.status, 'PROGRESSING');
  });

  test('heartbeat with a new phase records a job:phase event naming the phase', () => {
    const job = progressing('lease-a', { phase: 'PROBING' });
    const r = applyTransition(
      job,
      { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS, phase: 'TRANSCODING' },
      T1,
    );
    assert.equal(r.job.phase, 'TRANSCODING');
    assert.equal(r.event.type, 'job:phase');
    assert.deepEqual(r.event.data, { phase: 'TRANSCODING' });
    assertEventMatches(job, r);
  });

  test('heartbeat in the same phase records a job:progress event and keeps the phase', () => {
    const job = progressing('lease-a', { phase: 'TRANSCODING' });
    const same = applyTransition(
      job,
      { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS, phase: 'TRANSCODING' },
      T1,
    );
    assert.equal(same.event.type, 'job:progress');
    const none = applyTransition(job, { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1);
    assert.equal(none.event.type, 'job:progress');
    assert.equal(none.job.phase, 'TRANSCODING', 'a heartbeat without a phase keeps the current one');
    assertEventMatches(job, none);
  });

  test('heartbeat keeps stderrTail unless it sends one', () => {
    const job = progressing('lease-a', { stderrTail: 'old tail' });
    const kept = applyTransition(job, { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS }, T1);
    assert.equal(kept.job.stderrTail, 'old tail');
    const sent = applyTransition(
      job,
      { type: 'heartbeat', leaseToken: 'lease-a', leaseMs: LEASE_MS, stderrTail: 'new tail' },
      T1,
    );
    assert.equal(sent.job.stderrTail, 'new tail');
  });
});

describe('complete', () => {
  test('complete ends in COMPLETE at 100 percent with the outputs, no lease and finishedAt', () => {
    const job = progressing('lease-a', {
      phase: 'UPLOADING',
      progress: { percent: 97.5, fps: 120, speed: 4, etaSeconds: 3 },
    });
    const r = applyTransition(job, { type: 'complete', leaseToken: 'lease-a', outputs: OUTPUTS }, T2);
    assert.equal(r.job.status, 'COMPLETE');
    assert.equal(r.job.phase, null);
    assert.equal(r.job.progress.percent, 100);
    assert.equal(r.job.progress.etaSeconds, 0);
    assert.deepEqual(r.job.outputs, OUTPUTS);
    assert.equal(r.job.leaseHash, null);
    assert.equal(r.job.leaseUntil, null);
    assert.equal(r.job.finishedAt, T2.toISOString());
    assert.equal(r.event.type, 'job:complete');
    assertEventMatches(job, r);
  });

  test('a job cannot be completed twice: the second complete is refused', () => {
    const job = progressing('lease-a');
    const done = applyTransition(job, { type: 'complete', leaseToken: 'lease-a', outputs: OUTPUTS }, T1);
    assert.throws(
      () => applyTransition(done.job, { type: 'complete', leaseToken: 'lease-a', outputs: [] }, T2),
      isCode('LEASE_LOST'),
    );
  });
});

describe('fail', () => {
  const failWith = (retryable: boolean, token: string | null = 'lease-a') =>
    ({
      type: 'fail',
      leaseToken: token,
      error: { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' },
      retryable,
      retryDelayMs: 4_000,
      stderrTail: 'last lines',
    }) as const;

  test('a retryable failure with attempts left goes back to SUBMITTED with runAfter = now + delay', () => {
    const job = progressing('lease-a', { attempts: 1, maxAttempts: 3, phase: 'TRANSCODING' });
    const r = applyTransition(job, failWith(true), T1);
    assert.equal(r.job.status, 'SUBMITTED');
    assert.equal(r.job.runAfter, new Date(T1.getTime() + 4_000).toISOString());
    assert.equal(r.job.attempts, 1, 'the attempt stays counted');
    assert.equal(r.job.leaseHash, null);
    assert.equal(r.job.leaseUntil, null);
    assert.equal(r.job.phase, null);
    assert.equal(r.job.finishedAt, null, 'a retried job is not finished');
    assert.deepEqual(r.job.error, { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' });
    assert.equal(r.job.stderrTail, 'last lines');
    assert.equal(r.event.type, 'job:retry');
    assertEventMatches(job, r);
  });

  test('a retryable failure on the last allowed attempt ends in ERROR', () => {
    const job = progressing('lease-a', { attempts: 3, maxAttempts: 3 });
    const r = applyTransition(job, failWith(true), T1);
    assert.equal(r.job.status, 'ERROR');
    assert.equal(r.job.finishedAt, T1.toISOString());
    assert.equal(r.job.leaseHash, null);
    assert.deepEqual(r.job.error, { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' });
    assert.equal(r.event.type, 'job:error');
    assertEventMatches(job, r);
  });

  test('a non-retryable failure ends in ERROR at once, even with attempts left', () => {
    const job = progressing('lease-a', { attempts: 1, maxAttempts: 5 });
    const r = applyTransition(job, failWith(false), T1);
    assert.equal(r.job.status, 'ERROR');
    assert.equal(r.job.finishedAt, T1.toISOString());
    assert.equal(r.event.type, 'job:error');
    assertEventMatches(job, r);
  });

  test('the control plane may fail a lost attempt without a token (lease expiry)', () => {
    const job = progressing('lease-a', { attempts: 1, maxAttempts: 3 });
    const r = applyTransition(job, failWith(true, null), T1);
    assert.equal(r.job.status, 'SUBMITTED');
    assert.equal(r.event.type, 'job:retry');
  });
});

describe('cancel', () => {
  for (const status of ['SUBMITTED', 'PROGRESSING'] as const) {
    test(`cancel from ${status} ends in CANCELED with no lease and finishedAt`, () => {
      const job = status === 'PROGRESSING' ? progressing('lease-a') : makeJob();
      const r = applyTransition(job, { type: 'cancel', reason: 'user asked' }, T1);
      assert.equal(r.job.status, 'CANCELED');
      assert.equal(r.job.leaseHash, null);
      assert.equal(r.job.leaseUntil, null);
      assert.equal(r.job.finishedAt, T1.toISOString());
      assert.equal(r.event.type, 'job:canceled');
      assert.deepEqual(r.event.data, { reason: 'user asked' });
      assertEventMatches(job, r);
    });
  }

  for (const status of ['COMPLETE', 'ERROR', 'CANCELED'] as const) {
    test(`cancel from final status ${status} is an INVALID_TRANSITION`, () => {
      assert.throws(
        () => applyTransition(makeJob({ status }), { type: 'cancel', reason: 'too late' }, T1),
        isCode('INVALID_TRANSITION'),
      );
    });
  }

  test('a canceled job refuses its worker: the old lease cannot complete it', () => {
    const canceled = applyTransition(progressing('lease-a'), { type: 'cancel', reason: 'stop' }, T1);
    assert.throws(
      () => applyTransition(canceled.job, { type: 'complete', leaseToken: 'lease-a', outputs: OUTPUTS }, T2),
      isCode('LEASE_LOST'),
    );
  });
});

describe('retry (resubmit)', () => {
  const failed = (over: Partial<Job> = {}) =>
    makeJob({
      status: 'ERROR',
      attempts: 3,
      leaseHash: null,
      leaseUntil: null,
      startedAt: T0.toISOString(),
      finishedAt: T1.toISOString(),
      runAfter: T0.toISOString(),
      progress: { percent: 60, fps: 30, speed: 1, etaSeconds: 2 },
      error: { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' },
      outputs: OUTPUTS,
      ...over,
    });

  for (const status of ['ERROR', 'CANCELED'] as const) {
    test(`retry of a ${status} job goes back to SUBMITTED with attempts reset, runnable now, no error`, () => {
      const job = failed({ status });
      const r = applyTransition(job, { type: 'retry', reason: 'user asked' }, T2);
      assert.equal(r.job.status, 'SUBMITTED');
      assert.equal(r.job.attempts, 0, 'a fresh set of attempts');
      assert.equal(r.job.maxAttempts, job.maxAttempts);
      assert.equal(r.job.runAfter, T2.toISOString(), 'runnable at once, no backoff');
      assert.equal(r.job.error, null);
      assert.equal(r.job.finishedAt, null);
      assert.deepEqual(r.job.outputs, []);
      assert.equal(r.job.progress.percent, 0);
      assert.equal(r.job.leaseHash, null);
      assert.equal(r.job.startedAt, T0.toISOString(), 'the first start time is kept');
      assert.equal(r.event.type, 'job:resubmitted');
      assert.deepEqual(r.event.data, {
        reason: 'user asked',
        previousError: job.error,
        previousAttempts: 3,
      });
      assertEventMatches(job, r);
    });
  }

  test('a retried job can be claimed again and gets its full attempts back', () => {
    const r = applyTransition(failed(), { type: 'retry', reason: 'again' }, T1);
    const claimed = applyTransition(r.job, { type: 'claim', leaseToken: 'lease-b', leaseMs: LEASE_MS }, T2);
    assert.equal(claimed.job.status, 'PROGRESSING');
    assert.equal(claimed.job.attempts, 1);
    const failedAgain = applyTransition(
      claimed.job,
      {
        type: 'fail',
        leaseToken: 'lease-b',
        error: { code: 'WORKER_LOST', message: 'x' },
        retryable: true,
        retryDelayMs: 1_000,
      },
      T2,
    );
    assert.equal(failedAgain.job.status, 'SUBMITTED', 'attempt 1 of 3 again: retried, not dead-lettered');
  });

  for (const status of ['SUBMITTED', 'PROGRESSING', 'COMPLETE'] as const) {
    test(`retry of a ${status} job is an INVALID_TRANSITION`, () => {
      const job = status === 'PROGRESSING' ? progressing('lease-a') : makeJob({ status });
      assert.throws(
        () => applyTransition(job, { type: 'retry', reason: 'x' }, T1),
        isCode('INVALID_TRANSITION'),
      );
    });
  }
});

describe('release', () => {
  test('release undoes a claim: attempt given back, SUBMITTED, no lease, runAfter in the future', () => {
    const claimed = applyTransition(
      makeJob({ attempts: 1 }),
      { type: 'claim', leaseToken: 'lease-a', leaseMs: LEASE_MS },
      T0,
    );
    assert.equal(claimed.job.attempts, 2);
    const r = applyTransition(claimed.job, { type: 'release', reason: 'quota', retryDelayMs: 5_000 }, T1);
    assert.equal(r.job.status, 'SUBMITTED');
    assert.equal(r.job.attempts, 1);
    assert.equal(r.job.leaseHash, null);
    assert.equal(r.job.leaseUntil, null);
    assert.equal(r.job.runAfter, new Date(T1.getTime() + 5_000).toISOString());
    assert.ok(Date.parse(r.job.runAfter) > T1.getTime());
    assert.equal(r.event.type, 'job:released');
    assertEventMatches(claimed.job, r);
  });

  test('release of a job that is not PROGRESSING is an INVALID_TRANSITION', () => {
    assert.throws(
      () => applyTransition(makeJob(), { type: 'release', reason: 'x', retryDelayMs: 0 }, T1),
      isCode('INVALID_TRANSITION'),
    );
  });
});

test('every transition result carries an event whose fromStatus/toStatus match the job before and after', () => {
  const steps: [Job, Parameters<typeof applyTransition>[1]][] = [];
  let job = makeJob();
  const run = (t: Parameters<typeof applyTransition>[1], now: Date): void => {
    const before = job;
    const r = applyTransition(before, t, now);
    steps.push([before, t]);
    assertEventMatches(before, r);
    assert.equal(r.job.updatedAt, now.toISOString(), `${t.type} stamps updatedAt`);
    job = r.job;
  };
  run({ type: 'claim', leaseToken: 'a', leaseMs: LEASE_MS }, T0);
  run({ type: 'release', reason: 'launch failed', retryDelayMs: 0 }, T0);
  run({ type: 'claim', leaseToken: 'b', leaseMs: LEASE_MS }, T0);
  run({ type: 'start', leaseToken: 'b', leaseMs: LEASE_MS }, T0);
  run({ type: 'heartbeat', leaseToken: 'b', leaseMs: LEASE_MS, phase: 'TRANSCODING' }, T1);
  run(
    {
      type: 'fail',
      leaseToken: 'b',
      error: { code: 'TRANSCODE_FAILED', message: 'x' },
      retryable: true,
      retryDelayMs: 0,
    },
    T1,
  );
  run({ type: 'claim', leaseToken: 'c', leaseMs: LEASE_MS }, T1);
  run({ type: 'complete', leaseToken: 'c', outputs: OUTPUTS }, T2);
  const seen: JobStatus[] = steps.map(([b]) => b.status);
  assert.deepEqual(seen, [
    'SUBMITTED',
    'PROGRESSING',
    'SUBMITTED',
    'PROGRESSING',
    'PROGRESSING',
    'PROGRESSING',
    'SUBMITTED',
    'PROGRESSING',
  ]);
  assert.equal(job.status, 'COMPLETE');
  assert.equal(job.attempts, 2, 'the released claim did not use up an attempt');
});

describe('retryDelayMs', () => {
  test('the delay step doubles with each attempt', () => {
    const lows = [1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 0, 1_000, 1_000_000));
    assert.deepEqual(lows, [500, 1_000, 2_000, 4_000, 8_000]);
    const highs = [1, 2, 3].map((a) => retryDelayMs(a, 0.999999, 1_000, 1_000_000));
    assert.deepEqual(highs, [1_000, 2_000, 4_000]);
  });

  test('the delay stays within [step/2, step] for any jitter in [0, 1)', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const step = 2_000 * 2 ** (attempt - 1);
      for (const rand of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999]) {
        const d = retryDelayMs(attempt, rand);
        assert.ok(
          d >= step / 2 && d <= step,
          `attempt ${attempt} rand ${rand}: ${d} not in [${step / 2}, ${step}]`,
        );
      }
    }
  });

  test('jitter spreads the delay: a larger rand gives a longer delay for the same attempt', () => {
    assert.ok(retryDelayMs(3, 0.9) > retryDelayMs(3, 0.1));
  });

  test('the delay is capped at maxMs however many attempts', () => {
    for (const attempt of [10, 20, 100, 2_000]) {
      const d = retryDelayMs(attempt, 0.999, 2_000, 60_000);
      assert.ok(d <= 60_000, `attempt ${attempt}: ${d}`);
      assert.ok(d >= 30_000, `attempt ${attempt}: ${d}`);
      assert.ok(Number.isFinite(d));
    }
    assert.ok(retryDelayMs(50, 0.999) <= 300_000, 'default cap is 5 minutes');
  });

  test('attempt 0 or below uses the base step, never less', () => {
    assert.equal(retryDelayMs(0, 0, 2_000), 1_000);
    assert.equal(retryDelayMs(-3, 0, 2_000), 1_000);
  });
});
