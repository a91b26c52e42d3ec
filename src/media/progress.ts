// Parsing ffmpeg's `-progress` key=value stream, pure. Each block ends with `progress=continue|end`.
import type { JobProgress } from '../jobs/job.ts';

export interface ProgressSample {
  /**
   * Video frames sent to the encoder of the first video output: the top rendition. ffmpeg prints
   * `frame=` for that one stream only; null without video.
   */
  frames: number | null;
  /**
   * ffmpeg's `out_time`: the furthest end time over every output stream, image outputs included. An
   * image stream's end is its last frame plus one frame of its own rate (a sprite sheet of 100 frames 2 s
   * apart "ends" at 200 s), so with video it can run ahead of the encode; the frames do not.
   */
  outTimeSeconds: number;
  /** ffmpeg's own figures, kept for logs: its clock starts late and it prints fps=0 in the first second. */
  fps: number | null;
  speed: number | null;
  /** Wall seconds since ffmpeg was started, by Sluice's clock. */
  elapsedSeconds: number;
  done: boolean;
}

export class ProgressParser {
  private block = new Map<string, string>();
  private partial = '';
  private readonly started: number;

  /** `now`: a clock in seconds; the parser is made when ffmpeg starts and measures from then. */
  constructor(private readonly now: () => number = () => performance.now() / 1000) {
    this.started = now();
  }

  /** Feeds a chunk of ffmpeg's stdout; returns the samples completed by it. */
  push(chunk: string): ProgressSample[] {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const samples: ProgressSample[] = [];
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      this.block.set(key, value);
      if (key === 'progress') {
        samples.push(toSample(this.block, Math.max(0, this.now() - this.started)));
        this.block = new Map();
      }
    }
    return samples;
  }
}

function finite(value: string | undefined): number | null {
  if (value === undefined || value === 'N/A') return null;
  const n = Number.parseFloat(value);
  return Number.isFinite(n) ? n : null;
}

function toSample(block: Map<string, string>, elapsedSeconds: number): ProgressSample {
  // out_time_us is exact; out_time_ms is also microseconds (a long-standing ffmpeg misnomer).
  const us = finite(block.get('out_time_us')) ?? finite(block.get('out_time_ms'));
  const frames = finite(block.get('frame'));
  return {
    frames: frames !== null && frames >= 0 ? frames : null,
    outTimeSeconds: us !== null && us > 0 ? us / 1e6 : 0,
    fps: finite(block.get('fps')),
    speed: finite(block.get('speed')?.replace(/x$/, '')),
    elapsedSeconds,
    done: block.get('progress') === 'end',
  };
}

export interface ProgressBasis {
  /** Length of the output, in media seconds; null when unknown. */
  durationSeconds: number | null;
  /** The renditions' constant frame rate; null for audio only. */
  frameRate: number | null;
}

/** Below 100 until ffmpeg says it has ended: the encoders and muxers still flush past the last frame. */
const LAST_BEFORE_END = 99.9;

/** Media seconds encoded: the top rendition's frames at its constant rate, else (audio only) out_time. */
export function encodedSeconds(sample: ProgressSample, basis: ProgressBasis): number {
  if (basis.frameRate && basis.frameRate > 0 && sample.frames !== null)
    return sample.frames / basis.frameRate;
  return sample.outTimeSeconds;
}

/**
 * Job progress from a sample: percent of the media encoded, fps and speed (media seconds per wall
 * second) on Sluice's clock since ffmpeg started, ETA as the media left at that speed.
 */
export function toJobProgress(sample: ProgressSample, basis: ProgressBasis): JobProgress {
  const { durationSeconds } = basis;
  const known = durationSeconds !== null && durationSeconds > 0;
  const wall = sample.elapsedSeconds;
  let media = encodedSeconds(sample, basis);
  if (sample.done && known) media = Math.max(media, durationSeconds);
  if (known) media = Math.min(media, durationSeconds);
  const video = Boolean(basis.frameRate) && sample.frames !== null;
  const fps = video && wall > 0 ? round2((sample.frames ?? 0) / wall) : null;
  const speed = wall > 0 && media > 0 ? round2(media / wall) : null;
  if (sample.done) return { percent: 100, fps, speed, etaSeconds: 0 };
  if (!known) return { percent: 0, fps, speed, etaSeconds: null };
  const percent = Math.min(LAST_BEFORE_END, Math.round((media / durationSeconds) * 1000) / 10);
  const eta = speed ? Math.round((durationSeconds - media) / (media / wall)) : null;
  return { percent, fps, speed, etaSeconds: eta };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
