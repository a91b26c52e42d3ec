// Issue 8 point 5: `npx sluice serve &` then `kill -TERM <pid>` must stop the real server, its worker
// and ffmpeg, not only npm's wrapper. Runs npm itself (`npm exec sluice -- serve` from the repo), as a
// user does, and signals the process the user started.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ApiClient } from '../../src/cli/api-client.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { freePort } from '../real-server.ts';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(SLUICE_BIN), '..');

/** A template slow enough that ffmpeg is still encoding when the signal comes. */
const SLOW = {
  ladder: [{ name: '720p', height: 720, videoBitrateKbps: 2500 }],
  video: { preset: 'slower' },
  packaging: { segmentSeconds: 2 },
};

/** Live (not zombie) processes whose command line mentions `needle`. */
async function processesWith(needle: string): Promise<{ pid: number; args: string }[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,stat=,args=']);
  return stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter(
      (m): m is RegExpExecArray => m !== null && !m[2]?.startsWith('Z') && m[3]?.includes(needle) === true,
    )
    .map((m) => ({ pid: Number(m[1]), args: m[3] ?? '' }));
}

async function npxServe(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  await fs.mkdir(path.join(dataDir, 'templates'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dataDir, 'templates', 'slow.json'), JSON.stringify(SLOW), { mode: 0o600 });
  const port = await freePort();
  const npm: ChildProcess = spawn(
    'npm',
    [
      'exec',
      '--yes',
      'sluice',
      '--',
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--concurrency',
      '1',
    ],
    {
      cwd: REPO,
      // Its own process group, as a job started with `&` is; cleanup can then reach whatever is left.
      detached: true,
      stdio: 'ignore',
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'silent',
        SLUICE_SETTLE_MS: '300',
        SLUICE_SCHEDULER_INTERVAL_MS: '100',
        SLUICE_HEARTBEAT_SECONDS: '0.5',
        SLUICE_SHUTDOWN_GRACE_SECONDS: '1',
        SLUICE_DEFAULT_TEMPLATE: 'slow',
      },
    },
  );
  t.after(async () => {
    for (const p of await processesWith(dataDir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {}
    }
    try {
      process.kill(-(npm.pid ?? 0), 'SIGKILL');
    } catch {}
  });
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  await waitFor(
    'server up',
    () =>
      api.listJobs().then(
        () => true,
        () => false,
      ),
    60_000,
  );
  const info = JSON.parse(await fs.readFile(path.join(dataDir, 'server.json'), 'utf8')) as { pid: number };
  assert.notEqual(info.pid, npm.pid, 'npm runs the server as a separate process');
  return { dataDir, api, npm, serverPid: info.pid };
}

// SIGTERM to npm's pid alone (`kill -TERM <pid>`); SIGINT as Ctrl-C or `kill -INT %1` send it, to the
// job's process group. (npm holds a SIGINT sent to its pid alone: it forwards it to `sh`, which waits.)
for (const [signal, to] of [
  ['SIGTERM', 'npm'],
  ['SIGINT', 'group'],
] as const) {
  test(`${signal} to \`npm exec sluice serve\` (${to}) stops the server, its worker and ffmpeg`, async (t) => {
    const { dataDir, api, npm, serverPid } = await npxServe(t);
    await fs.copyFile(
      await clip({ width: 1280, height: 720, seconds: 4 }),
      path.join(dataDir, 'buckets', 'source', 'in.mp4'),
    );
    const ffmpeg = await waitFor('ffmpeg encoding', async () => {
      const ps = await processesWith(dataDir);
      return ps.find((p) => /ffmpeg/.test(p.args.split(' ')[0] ?? ''));
    });
    const worker = (await processesWith('worker --server')).find((p) => p.args.includes(api.baseUrl));
    assert.ok(worker, 'a worker runs');

    if (to === 'npm') npm.kill(signal);
    else process.kill(-(npm.pid ?? 0), signal);
    await waitFor(
      'server, worker and ffmpeg gone',
      async () => {
        const left = new Set((await processesWith('')).map((p) => p.pid));
        return !left.has(serverPid) && !left.has(worker.pid) && !left.has(ffmpeg.pid);
      },
      30_000,
    );
    // npm and its `sh` exit once the server has: a moment later under load. Nothing may stay.
    await waitFor(
      'npm and sh gone too',
      async () => (await processesWith(dataDir)).length === 0,
      10_000,
    ).catch(() => {});
    assert.deepEqual(await processesWith(dataDir), [], 'nothing of that server is left');
  });
}
