// Crash recovery with real processes: a worker killed with SIGKILL mid-encode, and the server itself
// killed with SIGKILL while jobs run and wait. Every job still ends COMPLETE, once.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { JobView } from '../../src/api/job-view.ts';
import { ApiClient } from '../../src/cli/api-client.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { freePort } from '../real-server.ts';

const run = promisify(execFile);

const TEMPLATE = {
  ladder: [{ name: '360p', height: 360, videoBitrateKbps: 800 }],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 2 },
};

/** `sluice serve` as its own process, as an operator runs it. */
function startServer(dataDir: string, port: number, env: Record<string, string> = {}): ChildProcess {
  return spawn(
    process.execPath,
    [SLUICE_BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--concurrency', '1'],
    {
      stdio: 'ignore',
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'silent',
        SLUICE_LEASE_SECONDS: '3',
        SLUICE_HEARTBEAT_SECONDS: '0.5',
        SLUICE_SETTLE_MS: '300',
        SLUICE_SCHEDULER_INTERVAL_MS: '200',
        SLUICE_DEFAULT_TEMPLATE: 'recovery',
        ...env,
      },
    },
  );
}

async function workerPids(jobId: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`--job ${jobId}`))
    .map((l) => Number.parseInt(l.trim(), 10));
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  await fs.mkdir(path.join(dataDir, 'templates'));
  await fs.writeFile(path.join(dataDir, 'templates', 'recovery.json'), JSON.stringify(TEMPLATE));
  const port = await freePort();
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  const servers: ChildProcess[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const s = startServer(dataDir, port, env);
    servers.push(s);
    await waitFor(
      'server up',
      async () =>
        fetch(`${api.baseUrl}/v1/health`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
    );
    return s;
  };
  t.after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    // Orphaned workers of a killed server: stop them too.
    const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
    for (const line of stdout
      .split('\n')
      .filter((l) => l.includes(dataDir) || l.includes('sluice.js worker'))) {
      const pid = Number.parseInt(line.trim(), 10);
      if (line.includes(`--server ${api.baseUrl}`)) process.kill(pid, 'SIGKILL');
    }
  });
  return { dataDir, api, start };
}

const finished = (j: JobView) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status);

test('a worker killed with SIGKILL mid-encode: the job is retried and completes on attempt 2', async (t) => {
  const { api, start, dataDir } = await setup(t);
  await start();
  const input = await clip({ width: 640, height: 360, seconds: 20, noise: true });
  const { jobs } = await api.upload(input, 'killme.mp4');
  const id = jobs[0]?.id ?? '';
  await waitFor('transcoding', async () => (await api.getJob(id)).phase === 'TRANSCODING', 60_000);
  const pids = await workerPids(id);
  assert.equal(pids.length, 1, 'one worker process for the job');
  process.kill(pids[0] as number, 'SIGKILL');
  const done = await waitFor(
    'complete',
    async () => {
      const j = await api.getJob(id);
      return finished(j) && j;
    },
    120_000,
  );
  assert.equal(done.status, 'COMPLETE');
  assert.equal(done.attempts, 2);
  const events = (await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as {
    events: { type: string; data: { error?: { code: string } } }[];
  };
  const retry = events.events.find((e) => e.type === 'job:retry');
  assert.equal(retry?.data.error?.code, 'WORKER_LOST');
  // COMPLETE is reported before the second worker removes its own scratch folder and exits: wait for
  // both workers to be gone, then no scratch folder may be left, the killed attempt's included.
  await waitFor("the job's workers to exit", async () => (await workerPids(id)).length === 0, 30_000);
  const scratch = await fs.readdir(path.join(dataDir, 'tmp'));
  assert.deepEqual(
    scratch.filter((n) => n.startsWith('sluice-')),
    [],
    'the killed attempt left no scratch folder',
  );
  assert.equal(events.events.filter((e) => e.type === 'job:complete').length, 1, 'completed exactly once');
});

test('the server killed with SIGKILL while one job runs and two wait: after a restart all three complete once', async (t) => {
  const { api, start } = await setup(t);
  const first = await start();
  const input = await clip({ width: 640, height: 360, seconds: 6, noise: true });
  const ids: string[] = [];
  for (const name of ['a.mp4', 'b.mp4', 'c.mp4']) ids.push((await api.upload(input, name)).jobs[0]?.id ?? '');
  await waitFor('one running', async () => (await api.getJob(ids[0] ?? '')).phase === 'TRANSCODING', 60_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  await start();
  const all = await waitFor(
    'all finished',
    async () => {
      const jobs = await Promise.all(ids.map((id) => api.getJob(id)));
      return jobs.every(finished) && jobs;
    },
    180_000,
  );
  for (const j of all) {
    assert.equal(j.status, 'COMPLETE', `${j.input.key}: ${j.error?.code} ${j.error?.message}`);
    const events = (await (await fetch(`${api.baseUrl}/v1/jobs/${j.id}/events`)).json()) as {
      events: { type: string }[];
    };
    assert.equal(
      events.events.filter((e) => e.type === 'job:complete').length,
      1,
      `${j.input.key} completed once`,
    );
  }
  const { jobs } = await api.listJobs();
  assert.equal(jobs.length, 3, 'no job lost, none duplicated');
});

test('SIGTERM: running jobs get the grace period to finish; past it they are released, not failed, and rerun', async (t) => {
  const { api, start } = await setup(t);
  const patient = await start({ SLUICE_SHUTDOWN_GRACE_SECONDS: '60' });
  const short = await clip({ width: 320, height: 180, seconds: 2 });
  const { jobs: quick } = await api.upload(short, 'quick.mp4');
  await waitFor(
    'running',
    async () => (await api.getJob(quick[0]?.id ?? '')).status === 'PROGRESSING',
    60_000,
  );
  patient.kill('SIGTERM');
  const code = await new Promise((r) => patient.once('exit', (c) => r(c)));
  assert.equal(code, 0, 'a clean exit');

  const hasty = await start({ SLUICE_SHUTDOWN_GRACE_SECONDS: '0' });
  assert.equal((await api.getJob(quick[0]?.id ?? '')).status, 'COMPLETE', 'finished within the grace period');
  const long = await clip({ width: 640, height: 360, seconds: 20, noise: true });
  const { jobs } = await api.upload(long, 'long.mp4');
  const id = jobs[0]?.id ?? '';
  await waitFor('transcoding', async () => (await api.getJob(id)).phase === 'TRANSCODING', 60_000);
  hasty.kill('SIGTERM');
  await new Promise((r) => hasty.once('exit', r));
  assert.deepEqual(await workerPids(id), [], 'its worker is gone');

  await start();
  const released = await api.getJob(id);
  assert.ok(['SUBMITTED', 'PROGRESSING'].includes(released.status), released.status);
  const done = await waitFor(
    'complete after restart',
    async () => {
      const j = await api.getJob(id);
      return finished(j) && j;
    },
    120_000,
  );
  assert.equal(done.status, 'COMPLETE');
  assert.equal(done.attempts, 1, 'the released attempt was not counted');
  const events = (await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as {
    events: { type: string }[];
  };
  assert.ok(events.events.some((e) => e.type === 'job:released'));
});
