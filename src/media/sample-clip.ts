// Generates short test media from ffmpeg's lavfi sources (colour bars with motion + a tone): the demo's
// sample, the tests' fixtures and the benchmark's input. Nothing is ever downloaded.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findFfmpeg } from './ffmpeg-binaries.ts';

const run = promisify(execFile);

export interface SampleOptions {
  width?: number;
  height?: number;
  seconds?: number;
  fps?: number;
  audio?: boolean;
  /** testsrc2 compresses very well; `noise` adds grain so bitrates behave like real footage. */
  noise?: boolean;
  /** Encode at this rate instead of ultrafast's default quality (grain otherwise makes huge files). */
  bitrateKbps?: number;
}

export async function makeSampleClip(file: string, o: SampleOptions = {}): Promise<string> {
  const { ffmpeg } = await findFfmpeg();
  const { width = 1280, height = 720, seconds = 4, fps = 30, audio = true, noise = false, bitrateKbps } = o;
  const video = `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}${noise ? ',noise=alls=20:allf=t' : ''}`;
  const args = ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', video];
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(fps));
  if (bitrateKbps)
    args.push('-b:v', `${bitrateKbps}k`, '-maxrate', `${bitrateKbps}k`, '-bufsize', `${bitrateKbps * 2}k`);
  if (audio) args.push('-c:a', 'aac', '-b:a', '128k');
  args.push('-movflags', '+faststart', '-t', String(seconds), file);
  await run(ffmpeg, args, { timeout: 120_000 });
  return file;
}
