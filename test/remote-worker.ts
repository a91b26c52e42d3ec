// `sluice worker --server --token` as a remote machine runs it, for tests of remote pull workers: in its
// own empty folder, with no SLUICE_* variable but its log level, in its own process group (SIGKILL takes
// its ffmpeg too, as a machine that dies would). Its JSON log lines are kept for assertions.
import { type ChildProcess, spawn } from 'node:child_process';
import { SLUICE_BIN } from '../src/launchers/local-process-launcher.ts';
import { tempDir } from './helpers.ts';
import type { RealServer } from './real-server.ts';

type T = Parameters<typeof tempDir>[0];

export interface WorkerProcess {
  child: ChildProcess;
  cwd: string;
  logs(): Record<string, unknown>[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

/** `sluice worker --server --token` in its own empty folder, with no SLUICE_* variable but its log level. */
export async function startWorker(
  t: T,
  server: RealServer,
  /** null: the args carry it (`--token-file`); `{ env }`: in SLUICE_WORKER_TOKEN. */
  token: string | null | { env: string },
  args: string[] = [],
): Promise<WorkerProcess> {
  const cwd = await tempDir(t, 'sluice-remote-worker-');
  const scratch = await tempDir(t, 'sluice-remote-scratch-');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('SLUICE_') && v !== undefined) env[k] = v;
  const child = spawn(
    process.execPath,
    [
      SLUICE_BIN,
      'worker',
      '--server',
      server.url,
      ...(typeof token === 'string' ? ['--token', token] : []),
      ...args,
    ],
    // Its own process group: killing it with SIGKILL takes its ffmpeg too, as a machine that dies would.
    {
      cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...env,
        SLUICE_LOG_LEVEL: 'info',
        TMPDIR: scratch,
        ...(token !== null && typeof token === 'object' ? { SLUICE_WORKER_TOKEN: token.env } : {}),
      },
    },
  );
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    text += c;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
      await exited;
    }
  });
  const logs = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { msg: l };
        }
      });
  return { child, cwd, logs, stderr: () => text, exited };
}
