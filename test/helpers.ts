// Shared test fixtures: temp dirs, silent loggers, generated media (cached per run), a fake launcher.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import type { Launcher, LaunchRequest, WorkerExit } from '../src/launchers/launcher.ts';
import { makeSampleClip, type SampleOptions } from '../src/media/sample-clip.ts';

export const silentLog = pino({ level: 'silent' });

export async function tempDir(
  t: { after: (fn: () => Promise<void>) => void },
  name = 'sluice-test-',
): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), name));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

const clips = new Map<string, Promise<string>>();
const clipDir = fs.mkdtemp(path.join(os.tmpdir(), 'sluice-clips-'));
process.on('exit', () => {
  void clipDir.then((d) => fs.rm(d, { recursive: true, force: true }));
});

/** A lavfi-generated clip, made once per process for each distinct option set. */
export function clip(o: SampleOptions = {}): Promise<string> {
  const id = JSON.stringify(o);
  let made = clips.get(id);
  if (!made) {
    made = clipDir.then((d) => makeSampleClip(path.join(d, `clip-${clips.size}.mp4`), o));
    clips.set(id, made);
  }
  return made;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * FakeLauncher: stands in for the local process launcher where a test checks the scheduler's
 * decisions, not a worker. It records launches and can be told to fail or to report an exit.
 */
export class FakeLauncher implements Launcher {
  readonly launched: LaunchRequest[] = [];
  /** Wall-clock time (ms) of each entry in `launched`. */
  readonly launchedAt: number[] = [];
  readonly stopped: string[] = [];
  failNext = false;
  private listeners: ((e: WorkerExit) => void)[] = [];

  async launch(req: LaunchRequest): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('no capacity (FakeLauncher told to fail)');
    }
    this.launched.push(req);
    this.launchedAt.push(Date.now());
  }
  stop(jobId: string): void {
    this.stopped.push(jobId);
  }
  onExit(listener: (e: WorkerExit) => void): void {
    this.listeners.push(listener);
  }
  exit(req: LaunchRequest, code = 137): void {
    for (const l of this.listeners) l({ ...req, code, signal: null, stderrTail: 'killed' });
  }
  running(): number {
    return this.launched.length;
  }
  async shutdown(): Promise<void> {}
}

/** Presentation times (s, 2 decimals) of the first video stream's keyframes, as ffprobe reads them. */
export async function keyframeTimes(file: string): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    file,
  ]);
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.split(',')[1]?.includes('K'))
    .map((l) => Math.round(Number(l.split(',')[0]) * 100) / 100);
}

/** A fixed-seed shuffle: not the natural order, and the same every run (duplicate, out-of-order deliveries). */
export function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Video frames a file (or an HLS master, an MPD) decodes to, counted by ffprobe reading every packet. */
export async function countFrames(file: string): Promise<number> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { stdout } = await promisify(execFile)('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_frames',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number(stdout.trim().split('\n')[0]);
}
