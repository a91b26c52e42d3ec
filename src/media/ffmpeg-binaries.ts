// Finds ffmpeg and ffprobe: SLUICE_FFMPEG/SLUICE_FFPROBE, else the system's on PATH, else the binaries
// shipped inside the optional npm packages, so a machine without ffmpeg still runs the README's commands.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { SluiceError } from '../errors.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  version: string;
  source: 'env' | 'system' | 'npm';
}

async function works(bin: string): Promise<string | null> {
  try {
    const { stdout } = await run(bin, ['-hide_banner', '-version'], { timeout: 10_000 });
    return stdout.split('\n')[0] ?? '';
  } catch {
    return null;
  }
}

function fromNpm(pkg: string): string | null {
  try {
    return (require(pkg) as { path: string }).path;
  } catch {
    return null;
  }
}

// One lookup per SLUICE_FFMPEG/SLUICE_FFPROBE setting: a process that changes them (a test running both
// the system and the npm binary) gets the binary it now names, not the first one found.
const cached = new Map<string, Promise<FfmpegBinaries>>();

/**
 * Set by the local launcher for its workers: the binaries the control plane already located and
 * checked. Checking again costs each worker three ffmpeg/ffprobe starts (~0.2 s) before its probe.
 */
export const WORKER_FFMPEG_ENV = 'SLUICE_WORKER_FFMPEG';

export function findFfmpeg(): Promise<FfmpegBinaries> {
  // The launcher's checked binaries first (a worker), else a lookup per SLUICE_FFMPEG/SLUICE_FFPROBE.
  const key = `${process.env[WORKER_FFMPEG_ENV] ?? ''}\0${process.env.SLUICE_FFMPEG ?? ''}\0${process.env.SLUICE_FFPROBE ?? ''}`;
  let found = cached.get(key);
  if (!found) {
    found = fromLauncher() ?? locate();
    cached.set(key, found);
  }
  return found;
}

function fromLauncher(): Promise<FfmpegBinaries> | null {
  const raw = process.env[WORKER_FFMPEG_ENV];
  if (!raw) return null;
  try {
    const b = JSON.parse(raw) as FfmpegBinaries;
    return typeof b.ffmpeg === 'string' && typeof b.ffprobe === 'string' ? Promise.resolve(b) : null;
  } catch {
    return null;
  }
}

async function locate(): Promise<FfmpegBinaries> {
  const candidates: { ffmpeg: string; ffprobe: string; source: FfmpegBinaries['source'] }[] = [];
  if (process.env.SLUICE_FFMPEG) {
    candidates.push({
      ffmpeg: process.env.SLUICE_FFMPEG,
      ffprobe: process.env.SLUICE_FFPROBE ?? 'ffprobe',
      source: 'env',
    });
  } else {
    candidates.push({ ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', source: 'system' });
    const ffmpeg = fromNpm('@ffmpeg-installer/ffmpeg');
    const ffprobe = fromNpm('@ffprobe-installer/ffprobe');
    if (ffmpeg && ffprobe) candidates.push({ ffmpeg, ffprobe, source: 'npm' });
  }
  const tried: string[] = [];
  for (const c of candidates) {
    const version = await works(c.ffmpeg);
    const probeVersion = version ? await works(c.ffprobe) : null;
    if (!version || !probeVersion) {
      tried.push(`${c.ffmpeg} (${c.source})`);
      continue;
    }
    const { stdout } = await run(c.ffmpeg, ['-hide_banner', '-encoders'], { maxBuffer: 8 << 20 });
    if (!/\blibx264\b/.test(stdout)) {
      tried.push(`${c.ffmpeg} (${c.source}: built without libx264)`);
      continue;
    }
    return { ...c, version };
  }
  throw new SluiceError(
    'FFMPEG_NOT_FOUND',
    `no usable ffmpeg with libx264 and ffprobe; tried ${tried.join(', ')}. Install ffmpeg (apt-get install ffmpeg) or set SLUICE_FFMPEG and SLUICE_FFPROBE`,
  );
}
