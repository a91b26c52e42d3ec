// A pull worker given several control planes (issue 9): `SLUICE_SERVER=URL1,URL2` with the first one
// down. Its claims, heartbeats, storage calls and results all go to the one that answers, on loopback,
// without network namespaces (test/e2e/separate-hosts.test.ts kills a replica mid-run for real).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { freePort, startRealServer } from '../real-server.ts';

test('a pull worker whose first control plane is down works through the second (SLUICE_SERVER list)', async (t) => {
  const server = await startRealServer(t, {
    args: ['--no-local-workers'],
    env: { SLUICE_LEASE_SECONDS: '3', SLUICE_HEARTBEAT_SECONDS: '0.5' },
  });
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const ids: string[] = [];
  for (const key of ['a.mp4', 'b.mp4'])
    ids.push(((await server.api.upload(input, key)).jobs[0] as JobView).id);
  const { token } = await server.api.createWorkerToken();
  const dead = `http://127.0.0.1:${await freePort()}`;
  const cwd = await tempDir(t, 'sluice-failover-worker-');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v;
  const child = spawn(process.execPath, [SLUICE_BIN, 'worker', '--token', token], {
    cwd,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...env, SLUICE_LOG_LEVEL: 'info', SLUICE_SERVER: `${dead},${server.url}`, TMPDIR: cwd },
  });
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    text += c;
  });
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-(child.pid as number), 'SIGKILL');
      await exited;
    }
  });
  for (const id of ids) {
    const job = await waitFor(`job ${id} to finish`, async () => {
      const j = await server.api.getJob(id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    });
    assert.equal(job.status, 'COMPLETE', `${job.error?.code} ${job.error?.message}`);
    assert.ok(job.outputs.length > 0);
  }
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = lines.find((l) => l.msg === 'pull worker started');
  assert.equal(started?.server, `${dead},${server.url}`, 'the worker knows both');
  const switched = lines.filter((l) => l.msg === 'a control plane did not answer: calls go to the next one');
  assert.equal(switched.length, 1, 'it switched once and stayed');
  assert.deepEqual([switched[0]?.from, switched[0]?.to], [dead, server.url]);
});
