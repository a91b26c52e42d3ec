// Capacity pools with real processes (seed 000: preemptible first, on-demand when none is left, a launch
// refused for quota retried later): a spot worker preempted (SIGTERM) three times mid-encode, the job then
// done on the on-demand pool with no attempt charged; a pool that refuses every launch, the job waiting
// visibly until the next pool takes it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer } from '../real-server.ts';

const run = promisify(execFile);

/** Slow enough (preset, size, grain) that a worker is reliably caught mid-encode; still seconds long. */
const SLOW_TEMPLATE = {
  ladder: [{ name: '360p', height: 360, videoBitrateKbps: 800 }],
  video: { preset: 'medium' },
  packaging: { segmentSeconds: 2 },
};

interface Event {
  type: string;
  at: string;
  data: Record<string, unknown>;
}

async function events(s: RealServer, id: string): Promise<Event[]> {
  const res = await fetch(`${s.url}/v1/jobs/${id}/events`);
  return ((await res.json()) as { events: Event[] }).events;
}

/** Processes whose command line has `needle` (the job's worker: `--job <id>`; its ffmpeg: its scratch). */
async function pidsWith(needle: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'))
    .map((l) => Number.parseInt(l.trim(), 10));
}

async function scratchOf(s: RealServer, id: string): Promise<string[]> {
  const names = await fs.readdir(path.join(s.dataDir, 'tmp')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(`sluice-${id}-`));
}

test('a spot worker preempted (SIGTERM) three times mid-encode: the job completes on the on-demand pool, attempts unchanged', async (t) => {
  const s = await startRealServer(t, {
    templates: { slow: SLOW_TEMPLATE },
    env: {
      SLUICE_DEFAULT_TEMPLATE: 'slow',
      SLUICE_POOLS: 'spot,on-demand',
      SLUICE_LOCAL_POOLS: 'spot=1,on-demand=1',
      // Three preemptions in spot before the offer moves on; no fallback by waiting in this test.
      SLUICE_POOL_PREEMPTIONS: '3',
      SLUICE_POOL_FALLBACK_SECONDS: '3600',
    },
  });
  const input = await clip({ width: 640, height: 360, seconds: 8, noise: true });
  const { jobs } = await s.api.upload(input, 'preempt-me.mp4');
  const id = jobs[0]?.id ?? '';
  assert.ok(id);

  const killed: number[] = [];
  for (let n = 1; n <= 3; n++) {
    // Mid-encode: ffmpeg has reported progress and is not done.
    const running = await waitFor(
      `attempt on spot ${n} encoding`,
      async () => {
        const j = await s.api.getJob(id);
        return j.status === 'PROGRESSING' && j.phase === 'TRANSCODING' && j.progress.percent > 0 && j;
      },
      60_000,
    );
    assert.equal(running.pool, 'spot', `claim ${n} is on the preferred pool`);
    assert.ok(running.progress.percent < 100, 'still encoding');
    const [worker, ...more] = await pidsWith(`--job ${id}`);
    assert.ok(worker !== undefined && more.length === 0, 'one worker process for the job');
    assert.ok(!killed.includes(worker), 'a new worker for each attempt');
    const scratch = await scratchOf(s, id);
    assert.equal(scratch.length, 1, `the attempt has its scratch folder: ${scratch.join(', ')}`);
    const ffmpegs = await pidsWith(scratch[0] as string);
    assert.ok(ffmpegs.length > 0, 'ffmpeg is running in the scratch folder');
    // The preemption notice goes to the worker alone (as a node's shutdown signals the container's
    // process): the worker itself must stop its ffmpeg.
    process.kill(worker, 'SIGTERM');
    killed.push(worker);
    await waitFor(
      `preemption ${n} recorded`,
      async () => (await events(s, id)).filter((e) => e.type === 'job:preempted').length === n,
      30_000,
    );
    await waitFor(`worker ${n} gone`, async () => (await pidsWith(`--job ${id}`)).every((p) => p !== worker));
    for (const pid of ffmpegs) {
      await waitFor(`ffmpeg ${pid} gone`, async () => !(await pidsWith(scratch[0] as string)).includes(pid));
    }
    await waitFor(
      `preempted attempt ${n}'s scratch folder removed`,
      async () => !(await scratchOf(s, id)).includes(scratch[0] as string),
      10_000,
    );
  }

  const done = await waitFor(
    'complete',
    async () => {
      const j = await s.api.getJob(id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    180_000,
  );
  assert.equal(done.status, 'COMPLETE', `${done.error?.code}: ${done.error?.message}`);
  assert.equal(done.pool, 'on-demand', 'completed on the fallback pool');
  assert.equal(done.preemptions, 3);
  assert.equal(done.attempts, 1, 'the preemptions used up no attempt');
  const history = await events(s, id);
  const preempted = history.filter((e) => e.type === 'job:preempted');
  assert.equal(preempted.length, 3);
  for (const e of preempted) assert.equal(e.data.pool, 'spot');
  assert.deepEqual(
    history.filter((e) => e.type === 'job:claimed').map((e) => [e.data.pool, e.data.attempt]),
    [
      ['spot', 1],
      ['spot', 1],
      ['spot', 1],
      ['on-demand', 1],
    ],
    'the pools used, and every claim was attempt 1',
  );
  assert.equal(history.filter((e) => e.type === 'job:retry').length, 0, 'no attempt failed');
  assert.equal(history.filter((e) => e.type === 'job:complete').length, 1, 'completed once');
  // Every preempted attempt's worker removed its scratch folder (the last one's goes as it exits).
  await waitFor('workers gone', async () => (await pidsWith(`--job ${id}`)).length === 0, 30_000);
  assert.deepEqual(await scratchOf(s, id), [], 'no scratch folder left');
});

test('a pool that refuses every launch (capacity 0): the job waits in WAITING_FOR_CAPACITY, uncharged, and the pool is retried with growing backoff', async (t) => {
  const s = await startRealServer(t, {
    env: { SLUICE_POOLS: 'spot', SLUICE_LOCAL_POOLS: 'spot=0' },
  });
  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const { jobs } = await s.api.upload(input, 'no-spot.mp4');
  const id = jobs[0]?.id ?? '';
  const refusals = () => s.logs().filter((l) => l.msg === 'launch refused: no capacity; will retry');
  await waitFor('three refusals', async () => refusals().length >= 3, 30_000);
  const job = await s.api.getJob(id);
  assert.equal(job.status, 'SUBMITTED', 'still queued: never stranded, never failed');
  assert.equal(job.phase, 'WAITING_FOR_CAPACITY');
  assert.equal(job.attempts, 0, 'a refused launch is not an attempt');
  assert.deepEqual(job.offeredTo, ['spot']);
  const { stdout } = await run(process.execPath, [SLUICE_BIN, 'job', id, '--server', s.url]);
  assert.match(stdout, /SUBMITTED \(WAITING_FOR_CAPACITY\)/);
  const seen = refusals().slice(0, 3);
  assert.deepEqual(
    seen.map((l) => l.refusals),
    [1, 2, 3],
    'refusals in a row are counted',
  );
  // Full jitter between half and all of a doubling step: each wait is at least the previous one.
  const delays = seen.map((l) => Number(l.retryInMs));
  assert.deepEqual(
    delays,
    [...delays].sort((x, y) => x - y),
    `backoff grows: ${delays.join(', ')} ms`,
  );
  const released = (await events(s, id)).filter((e) => e.type === 'job:released');
  assert.ok(released.length >= 3);
  for (const e of released) {
    assert.match(String(e.data.reason), /^CAPACITY_UNAVAILABLE: pool "spot" has no local capacity left/);
    assert.equal(e.data.phase, 'WAITING_FOR_CAPACITY');
  }
});

test('spot refuses every launch, on-demand has room: after the fallback wait the job completes on on-demand with one attempt', async (t) => {
  const s = await startRealServer(t, {
    env: {
      SLUICE_POOLS: 'spot,on-demand',
      SLUICE_LOCAL_POOLS: 'spot=0,on-demand=1',
      SLUICE_POOL_FALLBACK_SECONDS: '2',
    },
  });
  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const { jobs } = await s.api.upload(input, 'fallback.mp4');
  const id = jobs[0]?.id ?? '';
  const done = await waitFor(
    'complete on on-demand',
    async () => {
      const j = await s.api.getJob(id);
      return j.status === 'COMPLETE' && j;
    },
    60_000,
  );
  assert.equal(done.pool, 'on-demand');
  assert.equal(done.attempts, 1, 'only the launch that happened is an attempt');
  assert.equal(done.phase, null);
  const history = await events(s, id);
  const refused = history.filter(
    (e) => e.type === 'job:released' && String(e.data.reason).startsWith('CAPACITY_UNAVAILABLE'),
  );
  assert.ok(refused.length >= 1, 'spot was tried and refused first');
  for (const e of refused) assert.equal(e.data.pool, 'spot');
  const claims = history.filter((e) => e.type === 'job:claimed').map((e) => e.data.pool);
  assert.deepEqual(claims, [...refused.map(() => 'spot'), 'on-demand'], 'spot tried, on-demand took it');
  const onDemand = history.find((e) => e.type === 'job:claimed' && e.data.pool === 'on-demand');
  const created = history.find((e) => e.type === 'job:created');
  assert.ok(
    Date.parse(onDemand?.at ?? '') - Date.parse(created?.at ?? '') >= 2000,
    'on-demand took it only after the fallback wait',
  );
});
