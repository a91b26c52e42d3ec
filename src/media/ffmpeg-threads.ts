// How many threads one attempt's ffmpeg may use: SLUICE_FFMPEG_THREADS (set by `sluice worker --threads`
// or the server's environment for its local workers), else ffmpeg's own choice (about one per core, for
// decoding, filtering and each encoder). Several workers on one machine, or a chunk per core, want one.
import { SluiceError } from '../errors.ts';

export function ffmpegThreads(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.SLUICE_FFMPEG_THREADS;
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `SLUICE_FFMPEG_THREADS is ${JSON.stringify(raw)}; give a whole number of threads from 1 to 256, or leave it unset for ffmpeg's own choice`,
    );
  }
  return n;
}

/** Global options: the filter graph's threads. */
export function filterThreadArgs(threads: number | null | undefined): string[] {
  return threads ? ['-filter_complex_threads', String(threads), '-filter_threads', String(threads)] : [];
}

/** Per-file options (before an input: its decoder; before an output: its encoders). */
export function threadArgs(threads: number | null | undefined): string[] {
  return threads ? ['-threads', String(threads)] : [];
}
