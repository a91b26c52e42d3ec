// A control-plane crash must not cost a job an attempt (issue 7, finding 12). Real processes: `sluice
// serve` is killed with SIGKILL while its worker encodes, stays down longer than the worker's lease, and is
// restarted on the same port and data directory.
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
const LEASE_SECONDS = 5;

const TEMPLATE = {
  ladder: [{ name: '360p', height: 360, videoBitrateKbps: 800 }],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 2 },
};

type Events = { events: { type: string; data: { reason?: string; error?: { code: string } } }[] };

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  await fs.mkdir(path.join(dataDir, 'templates'));
  await fs.writeFile(path.join(dataDir, 'templates', 'restart.json'), JSON.stringify(TEMPLATE));
  const port = await freePort();
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  const servers: ChildProcess[] = [];
  const start = async () => {
    const s = spawn(
      process.execPath,
      [SLUICE_BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--concurrency', '1'],
      {
        stdio: 'ignore',
        env: {
          ...process.env,
          // Not silent: the worker writes its warnings into a pipe whose reader (the server) dies.
          SLUICE_LOG_LEVEL: 'warn',
          SLUICE_LEASE_SECONDS: String(LEASE_SECONDS),
          SLUICE_HEARTBEAT_SECONDS: '0.5',
          SLUICE_SETTLE_MS: '300',
          SLUICE_SCHEDULER_INTERVAL_MS: '200',
          SLUICE_DEFAULT_TEMPLATE: 'restart',
        },
      },
    );
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
  const kill = async (s: ChildProcess) => {
    s.kill('SIGKILL');
    if (s.exitCode === null && s.signalCode === null) await new Promise((r) => s.once('exit', r));
  };
  t.after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    for (const pid of await workerPids(api.baseUrl)) process.kill(pid, 'SIGKILL');
  });
  const events = async (id: string) =>
    ((await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as Events).events;
  return { api, start, kill, events };
}

async function workerPids(serverUrl: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`--server ${serverUrl}`) && l.includes(' worker '))
    .map((l) => Number.parseInt(l.trim(), 10));
}

const finished = (j: JobView) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status);

/** Waits until the lease the dead server granted has lapsed: the restart is slower than the lease. */
async function outlastLease(leaseUntil: string | null): Promise<void> {
  assert.ok(leaseUntil, 'a running job has a lease');
  const end = Date.parse(leaseUntil) + 200;
  await waitFor('the lease to lapse', async () => Date.now() > end, 30_000);
}

test('the server is SIGKILLed mid-encode and restarted after the lease lapsed: the same worker finishes, attempt 1', async (t) => {
  const { api, start, kill, events } = await setup(t);
  const first = await start();
  const input = await clip({ width: 640, height: 360, seconds: 30, noise: true });
  const id = (await api.upload(input, 'through-restart.mp4')).jobs[0]?.id ?? '';
  const running = await waitFor(
    'transcoding',
    async () => {
      const j = await api.getJob(id);
      return j.phase === 'TRANSCODING' && j;
    },
    60_000,
  );
  const [worker] = await workerPids(api.baseUrl);
  assert.ok(worker, 'a worker runs the job');
  await kill(first);
  await outlastLease(running.leaseUntil);
  process.kill(worker, 0); // the worker outlived its server (throws if it did not)
  await start();
  const done = await waitFor(
    'finished',
    async () => {
      const j = await api.getJob(id);
      return finished(j) && j;
    },
    120_000,
  );
  const history = await events(id);
  assert.equal(done.status, 'COMPLETE', `${done.error?.code} ${done.error?.message}`);
  assert.equal(done.attempts, 1, 'the restart cost no attempt');
  assert.deepEqual(
    history.filter((e) => e.data.error?.code === 'WORKER_LOST'),
    [],
    'no WORKER_LOST on the job',
  );
  assert.equal(history.filter((e) => e.type === 'job:claimed').length, 1, 'the first worker finished it');
  assert.equal(history.filter((e) => e.type === 'job:complete').length, 1, 'completed once');
});

test('the worker dies together with the server: after the restart the job is released, not charged, and completes', async (t) => {
  const { api, start, kill, events } = await setup(t);
  const first = await start();
  const input = await clip({ width: 640, height: 360, seconds: 30, noise: true });
  const id = (await api.upload(input, 'dies-with-server.mp4')).jobs[0]?.id ?? '';
  const running = await waitFor(
    'transcoding',
    async () => {
      const j = await api.getJob(id);
      return j.phase === 'TRANSCODING' && j;
    },
    60_000,
  );
  const [worker] = await workerPids(api.baseUrl);
  assert.ok(worker, 'a worker runs the job');
  process.kill(-worker, 'SIGKILL'); // the worker's process group: it and its ffmpeg
  await kill(first);
  await outlastLease(running.leaseUntil);
  await start();
  const done = await waitFor(
    'finished',
    async () => {
      const j = await api.getJob(id);
      return finished(j) && j;
    },
    120_000,
  );
  const history = await events(id);
  assert.equal(done.status, 'COMPLETE', `${done.error?.code} ${done.error?.message}`);
  assert.equal(done.attempts, 1, 'the attempt lost with the control plane was not counted');
  const released = history.find((e) => e.type === 'job:released');
  assert.match(released?.data.reason ?? '', /restart/, 'a job event says why it was put back');
  assert.deepEqual(
    history.filter((e) => e.data.error?.code === 'WORKER_LOST'),
    [],
    'no WORKER_LOST on the job',
  );
  assert.equal(history.filter((e) => e.type === 'job:claimed').length, 2, 'it ran again');
  assert.equal(history.filter((e) => e.type === 'job:complete').length, 1, 'completed once');
});
