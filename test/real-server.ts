// `sluice serve` as its own process, as an operator runs it: for tests whose finding was reproduced
// against a real server (uploads, slow writers, output layout). Its JSON log lines are kept for assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { JobView } from '../src/api/job-view.ts';
import { ApiClient } from '../src/cli/api-client.ts';
import { SLUICE_BIN } from '../src/launchers/local-process-launcher.ts';
import { type tempDir, waitFor } from './helpers.ts';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A small, fast template for tests that check where outputs go rather than how they look. */
export const TINY_TEMPLATE = {
  ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 1 },
};

export interface RealServer {
  dataDir: string;
  url: string;
  /** The API token, when the server listens beyond loopback. */
  token: string | undefined;
  api: ApiClient;
  source: string;
  destination: string;
  /** Parsed JSON log lines the server (and its workers) wrote so far. */
  logs(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startRealServer(
  t: Parameters<typeof tempDir>[0],
  o: {
    env?: Record<string, string>;
    templates?: Record<string, object>;
    dataDir?: string;
    /** `--host`; beyond loopback the API needs the token the server writes to `<data-dir>/api-token`. */
    host?: string;
    /** The port to listen on (a restart on the same address); a free one otherwise. */
    port?: number;
    /** More `sluice serve` flags (`--no-local-workers`). */
    args?: string[];
    /** Called with the data directory before the server starts (folders, links, modes to test). */
    prepare?: (dataDir: string) => Promise<void>;
  } = {},
): Promise<RealServer> {
  // Removed by the same hook that stops the server, after it: a folder removed while the server (or a
  // worker) still writes into it fails with ENOTEMPTY, and a failed hook would leave the server running.
  const own = o.dataDir === undefined;
  const dataDir = o.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-test-')));
  // Owner-only, as Sluice itself keeps its data directory (the file-modes test checks every file).
  await fs.mkdir(path.join(dataDir, 'templates'), { recursive: true, mode: 0o700 });
  for (const [name, body] of Object.entries(o.templates ?? { tiny: TINY_TEMPLATE })) {
    await fs.writeFile(path.join(dataDir, 'templates', `${name}.json`), JSON.stringify(body), {
      mode: 0o600,
    });
  }
  await o.prepare?.(dataDir);
  const port = o.port ?? (await freePort());
  const child: ChildProcess = spawn(
    process.execPath,
    [
      SLUICE_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--concurrency',
      '1',
      ...(o.host ? ['--host', o.host] : []),
      ...(o.args ?? []),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'info',
        SLUICE_LEASE_SECONDS: '10',
        SLUICE_HEARTBEAT_SECONDS: '0.5',
        SLUICE_SETTLE_MS: '300',
        SLUICE_SCHEDULER_INTERVAL_MS: '100',
        SLUICE_DEFAULT_TEMPLATE: 'tiny',
        ...o.env,
      },
    },
  );
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.after(async () => {
    await stop();
    if (own) await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });
  await waitFor(
    'server up',
    async () =>
      fetch(`${url}/v1/health`).then(
        (r) => r.ok,
        () => false,
      ),
    30_000,
  );
  const token = o.host
    ? (await fs.readFile(path.join(dataDir, 'api-token'), 'utf8').catch(() => '')).trim() || undefined
    : undefined;
  return {
    dataDir,
    url,
    token,
    api: new ApiClient(url, token),
    source: path.join(dataDir, 'buckets', 'source'),
    destination: path.join(dataDir, 'buckets', 'destination'),
    logs: () => lines,
    stop,
  };
}

/** Waits until the server has at least `n` jobs and all are COMPLETE; a job ending otherwise fails at once. */
export async function allComplete(server: RealServer, n: number, timeoutMs = 120_000): Promise<JobView[]> {
  return waitFor(
    `${n} jobs COMPLETE`,
    async () => {
      const { jobs } = await server.api.listJobs(undefined, 100);
      const bad = jobs.find((j) => j.status === 'ERROR' || j.status === 'CANCELED');
      if (bad) throw new Error(`job ${bad.id} ended ${bad.status}: ${bad.error?.code} ${bad.error?.message}`);
      return jobs.length >= n && jobs.every((j) => j.status === 'COMPLETE') && jobs;
    },
    timeoutMs,
  );
}
