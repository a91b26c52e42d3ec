// Runs ffprobe on a local file and parses what it reports.
import { execFile } from 'node:child_process';
import { SluiceError } from '../errors.ts';
import { findFfmpeg } from './ffmpeg-binaries.ts';
import { inputRestrictions } from './input-policy.ts';
import { type MediaInfo, parseProbe } from './media-info.ts';

export function probeArgs(file: string): string[] {
  return [
    '-v',
    'error',
    ...inputRestrictions(),
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    file,
  ];
}

/** `shownAs` replaces the file's path in error messages (a server's scratch copy is named by its object). */
export async function probe(file: string, timeoutMs = 60_000, shownAs = file): Promise<MediaInfo> {
  const { ffprobe } = await findFfmpeg();
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>(
    (resolve) => {
      execFile(
        ffprobe,
        probeArgs(file),
        { timeout: timeoutMs, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ stdout, stderr, code });
        },
      );
    },
  );
  if (code !== 0) {
    const reason =
      stderr.trim().split('\n').slice(-3).join(' ').split(file).join(shownAs) ||
      `ffprobe exited with ${code}`;
    if (/not on whitelist|not in allowed|Invalid data found when processing input/.test(reason)) {
      // Either nothing recognisable, or a format the allowlist keeps closed.
      throw new SluiceError(
        /whitelist|allowed/.test(reason) ? 'INPUT_FORMAT_NOT_ALLOWED' : 'INPUT_UNREADABLE',
        `the input could not be read as an accepted media format: ${reason}`,
      );
    }
    throw new SluiceError('INPUT_UNREADABLE', `the input could not be read as media: ${reason}`);
  }
  const info = parseProbe(stdout);
  if (info.streamCount === 0)
    throw new SluiceError('INPUT_UNREADABLE', 'the input has no audio or video streams');
  return info;
}
