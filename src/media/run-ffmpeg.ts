// Spawns ffmpeg without a shell, reporting progress and keeping stderr's tail. ffmpeg stays in the worker's
// process group, so whoever stops the worker's group (the launcher) stops ffmpeg with it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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

const PRLIMIT = '/usr/bin/prlimit';

/**
 * `cpuSeconds`: a CPU-time limit enforced by the kernel (RLIMIT_CPU, through util-linux's prlimit when
 * the machine has it); past it ffmpeg gets SIGXCPU and the attempt fails with JOB_CPU_LIMIT.
 */
export async function runFfmpeg(
  args: string[],
  onProgress: (s: ProgressSample) => void,
  o: { cpuSeconds?: number } = {},
): Promise<FfmpegRun> {
  const { ffmpeg } = await findFfmpeg();
  const limited = o.cpuSeconds && o.cpuSeconds > 0 && existsSync(PRLIMIT);
  const child = limited
    ? // Soft limit below the hard one: SIGXCPU (which names the cause) comes before the hard SIGKILL.
      spawn(
        PRLIMIT,
        [`--cpu=${Math.ceil(o.cpuSeconds ?? 0)}:${Math.ceil(o.cpuSeconds ?? 0) + 10}`, '--', ffmpeg, ...args],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
    : spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const parser = new ProgressParser();
  let tail = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const sample of parser.push(chunk)) onProgress(sample);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-TAIL_BYTES);
  });
  let killed = false;
  const kill = () => {
    killed = true;
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new SluiceError('TRANSCODE_FAILED', `ffmpeg could not start: ${err.message}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      // Past the soft limit the kernel sends SIGXCPU once per CPU second. ffmpeg catches it and exits 255
      // ("stopped by a signal") once it has flushed its encoders; if flushing takes more than three more
      // CPU seconds (x264's lookahead, several threads) it gets more signals and "hard exits" with 123,
      // and at the hard limit the kernel kills it. Unless Sluice killed it itself, each is the CPU limit.
      const cpuLimit =
        signal === 'SIGXCPU' ||
        (limited && !killed && (code === 255 || code === 123 || signal === 'SIGKILL'));
      if (cpuLimit) {
        return reject(
          new SluiceError(
            'JOB_CPU_LIMIT',
            `ffmpeg used up its CPU-time limit of ${o.cpuSeconds} s and was stopped`,
          ),
        );
      }
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
