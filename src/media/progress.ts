// Parsing ffmpeg's `-progress` key=value stream, pure. Each block ends with `progress=continue|end`.
import type { JobProgress } from '../jobs/job.ts';

export interface ProgressSample {
  outTimeSeconds: number;
  fps: number | null;
  speed: number | null;
  done: boolean;
}

export class ProgressParser {
  private block = new Map<string, string>();
  private partial = '';

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
        samples.push(toSample(this.block));
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

function toSample(block: Map<string, string>): ProgressSample {
  // out_time_us is exact; out_time_ms is also microseconds (a long-standing ffmpeg misnomer).
  const us = finite(block.get('out_time_us')) ?? finite(block.get('out_time_ms'));
  return {
    outTimeSeconds: us !== null && us > 0 ? us / 1e6 : 0,
    fps: finite(block.get('fps')),
    speed: finite(block.get('speed')?.replace(/x$/, '')),
    done: block.get('progress') === 'end',
  };
}

/** Job progress from a sample and the input duration: percent of the encode, ETA from the speed. */
export function toJobProgress(sample: ProgressSample, durationSeconds: number | null): JobProgress {
  if (sample.done) return { percent: 100, fps: sample.fps, speed: sample.speed, etaSeconds: 0 };
  if (!durationSeconds || durationSeconds <= 0) {
    return { percent: 0, fps: sample.fps, speed: sample.speed, etaSeconds: null };
  }
  const fraction = Math.min(1, sample.outTimeSeconds / durationSeconds);
  const remaining = durationSeconds - Math.min(durationSeconds, sample.outTimeSeconds);
  const eta = sample.speed && sample.speed > 0 ? Math.round(remaining / sample.speed) : null;
  return { percent: Math.round(fraction * 1000) / 10, fps: sample.fps, speed: sample.speed, etaSeconds: eta };
}
