// Ladder planning, pure: (template, probe) -> the concrete renditions a job will encode.
import { SluiceError } from '../errors.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { Template } from './template.ts';

export interface PlannedRendition {
  name: string;
  width: number;
  height: number;
  /**
   * Sample aspect ratio that makes width x height show at exactly the source's display aspect ratio
   * (426x240 of a 16:9 source is 640:639). Players then show every rendition at the same shape, and
   * DASH puts them in one adaptation set, which requires an identical picture aspect ratio.
   */
  sar: string;
  videoBitrateKbps: number;
  maxrateKbps: number;
  bufsizeKbps: number;
}

export interface Plan {
  renditions: PlannedRendition[];
  audio: { bitrateKbps: number; channels: number } | null;
  /** Output frame rate; null keeps the source's. */
  frameRate: number | null;
  segmentSeconds: number;
  durationSeconds: number | null;
  thumbnail: { atSeconds: number; width: number; height: number } | null;
  hls: boolean;
  dash: boolean;
  mp4: boolean;
  preset: string;
}

const even = (n: number): number => Math.max(2, Math.round(n / 2) * 2);

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function sampleAspect(
  displayWidth: number,
  displayHeight: number,
  width: number,
  height: number,
): string {
  const num = displayWidth * height;
  const den = displayHeight * width;
  const g = gcd(num, den);
  return `${num / g}/${den / g}`;
}

/** Size for a target short side, keeping the display aspect ratio and orientation; both sides even. */
export function fitShortSide(displayWidth: number, displayHeight: number, shortSide: number) {
  const portrait = displayHeight > displayWidth;
  const long = (shortSide * Math.max(displayWidth, displayHeight)) / Math.min(displayWidth, displayHeight);
  return portrait
    ? { width: even(shortSide), height: even(long) }
    : { width: even(long), height: even(shortSide) };
}

export function planJob(template: Template, media: MediaInfo): Plan {
  const video = media.video;
  if (!video) {
    throw new SluiceError(
      'INPUT_NO_VIDEO',
      `template ${template.name} needs a video stream; the input has none`,
    );
  }
  const sourceShort = Math.min(video.displayWidth, video.displayHeight);
  const rungs = [...template.ladder].sort((a, b) => b.height - a.height);
  let chosen = template.allowUpscale ? rungs : rungs.filter((r) => r.height <= sourceShort);
  if (chosen.length === 0) {
    // A source smaller than every rung still gets one rendition, at its own size and the lowest rate.
    const lowest = rungs[rungs.length - 1];
    if (!lowest) throw new SluiceError('INVALID_TEMPLATE', `template ${template.name} has an empty ladder`);
    chosen = [{ ...lowest, height: sourceShort }];
  }
  const renditions = chosen.map((r) => {
    const size = fitShortSide(video.displayWidth, video.displayHeight, r.height);
    const maxrate = Math.round(r.videoBitrateKbps * template.video.maxrateFactor);
    return {
      name: r.name,
      ...size,
      sar: sampleAspect(video.displayWidth, video.displayHeight, size.width, size.height),
      videoBitrateKbps: r.videoBitrateKbps,
      maxrateKbps: maxrate,
      bufsizeKbps: maxrate * 2,
    };
  });
  const frameRate =
    video.frameRate !== null && video.frameRate > template.video.maxFrameRate
      ? template.video.maxFrameRate
      : null;
  const duration = media.durationSeconds;
  let thumbnail: Plan['thumbnail'] = null;
  if (template.thumbnail.enabled) {
    const short = Math.min(template.thumbnail.height, sourceShort);
    const at = duration
      ? Math.min((duration * template.thumbnail.atPercent) / 100, Math.max(0, duration - 0.5))
      : 0;
    thumbnail = {
      atSeconds: Math.round(at * 1000) / 1000,
      ...fitShortSide(video.displayWidth, video.displayHeight, short),
    };
  }
  return {
    renditions,
    audio: media.audio
      ? { bitrateKbps: template.audio.bitrateKbps, channels: template.audio.channels }
      : null,
    frameRate,
    segmentSeconds: template.packaging.segmentSeconds,
    durationSeconds: duration,
    thumbnail,
    hls: template.packaging.hls,
    dash: template.packaging.dash,
    mp4: template.mp4.enabled,
    preset: template.video.preset,
  };
}
