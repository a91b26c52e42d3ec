// Spawns ffmpeg without a shell, reporting progress and keeping stderr's tail. ffmpeg stays in the worker's
// process group, so whoever stops the worker's group (the launcher) stops ffmpeg with it.
import { spawn } from 'node:child_process';
import { SluiceError } from '../errors.ts';
import { findFfmpeg } from './ffmpeg-binaries.ts';
import { ProgressParser, type ProgressSample } from './progress.ts';

export interface FfmpegRun {
  done: Promise<void>;
  /** Stops ffmpeg and everything it started. */
  kill(): void;
  stderrTail(): string;
}

const TAIL_BYTES = 8 * 1024;

export async function runFfmpeg(args: string[], onProgress: (s: ProgressSample) => void): Promise<FfmpegRun> {
  const { ffmpeg } = await findFfmpeg();
  const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const parser = new ProgressParser();
  let tail = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const sample of parser.push(chunk)) onProgress(sample);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-TAIL_BYTES);
  });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new SluiceError('TRANSCODE_FAILED', `ffmpeg could not start: ${err.message}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const last = tail.trim().split('\n').slice(-3).join(' | ');
      reject(
        new SluiceError('TRANSCODE_FAILED', `ffmpeg exited with ${signal ?? code}: ${last || 'no message'}`, {
          exitCode: code,
          signal,
        }),
      );
    });
  });
  return { done, kill, stderrTail: () => tail };
}
