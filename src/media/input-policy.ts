// What Sluice agrees to read, pure. ffprobe and ffmpeg only open local files (no network, no other
// protocol) and only through the demuxers listed here: playlists (HLS), concat lists, image sequences
// and the like are refused before they can open anything else, which is how crafted inputs have read
// local files (CVE-2016-1897/1898, CVE-2017-9993). Limits are checked on the probe, before any encode.
import { SluiceError } from '../errors.ts';
import type { MediaInfo } from './media-info.ts';

/** Demuxers for the containers people upload video and audio in. */
export const ALLOWED_DEMUXERS = [
  'mov', // mp4, m4a, m4v, mov, 3gp
  'matroska', // mkv, webm
  'avi',
  'mpegts',
  'mpeg',
  'mxf',
  'flv',
  'asf', // wmv, wma
  'wav',
  'mp3',
  'aac',
  'ogg',
  'flac',
] as const;

/** Input options that confine a demuxer to one local file and the allowed formats. */
export function inputRestrictions(): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED_DEMUXERS.join(',')];
}

export interface InputLimits {
  maxBytes: number;
  maxPixels: number;
  maxDurationSeconds: number;
  maxStreams: number;
  /** Video frames to decode. Size says little about work: 778 KB of 720p at 1000 fps is 10,000 frames. */
  maxFrames: number;
  /** Decoded pixels in all (width x height x frames): the decode and scaling work of the input. */
  maxPixelFrames: number;
  /** Longest side of the picture as shown (sample aspect ratio applied), what the top rendition needs. */
  maxDisplaySide: number;
  /** Long side over short side as shown; past it the sample aspect ratio is broken, not a format. */
  maxAspectRatio: number;
}

// The work limits let ordinary media through: 12 h at 120 fps, 4K at 60 fps for 12 h (2.15e13
// pixel-frames), an 8K picture, the widest real formats (a 48:9 video wall is 5.3:1).
export const DEFAULT_LIMITS: InputLimits = {
  maxBytes: 50 * 1024 ** 3,
  maxPixels: 8192 * 4352,
  maxDurationSeconds: 12 * 3600,
  maxStreams: 32,
  maxFrames: 12 * 3600 * 120,
  maxPixelFrames: 3840 * 2160 * 60 * 12 * 3600,
  maxDisplaySide: 8192,
  maxAspectRatio: 20,
};

/**
 * Frames the input will decode: the larger of what the container declares and the stream's length
 * times its rate, so a header that under-reports its frames does not hide them. Null when unknown.
 */
export function estimatedFrames(media: MediaInfo): number | null {
  const v = media.video;
  if (!v) return null;
  const seconds = v.durationSeconds ?? media.durationSeconds;
  const fromRate = v.frameRate !== null && seconds !== null ? Math.ceil(v.frameRate * seconds) : null;
  const declared = v.frameCount ?? null;
  if (fromRate === null) return declared;
  return declared === null ? fromRate : Math.max(declared, fromRate);
}

export function checkSize(bytes: number, limits: InputLimits): void {
  if (bytes === 0) throw new SluiceError('INPUT_EMPTY', 'the input is empty (0 bytes)');
  if (bytes > limits.maxBytes) {
    throw new SluiceError('INPUT_TOO_BIG', `the input is ${bytes} bytes; the limit is ${limits.maxBytes}`);
  }
}

/** The probe's verdict against the allowlist and the limits; throws the specific refusal. */
export function checkProbe(media: MediaInfo, limits: InputLimits): void {
  // ffprobe names a container but no stream it can use (a video header claiming 100000x100000 reads
  // as 0x0 and is dropped): there is nothing to transcode, and no attempt would find more.
  if (!media.video && !media.audio) {
    throw new SluiceError(
      'INPUT_UNREADABLE',
      `the input (${media.container}) has no video or audio stream ffmpeg can decode; check the file plays in a player`,
    );
  }
  const names = media.container.split(',');
  if (!ALLOWED_DEMUXERS.some((d) => names.includes(d) || (d === 'mov' && names.includes('mp4')))) {
    throw new SluiceError(
      'INPUT_FORMAT_NOT_ALLOWED',
      `input format "${media.container}" is not accepted; accepted: ${ALLOWED_DEMUXERS.join(', ')}`,
    );
  }
  if (media.streamCount > limits.maxStreams) {
    throw new SluiceError(
      'INPUT_TOO_MANY_STREAMS',
      `the input has ${media.streamCount} streams; the limit is ${limits.maxStreams}`,
    );
  }
  const v = media.video;
  if (v && v.width * v.height > limits.maxPixels) {
    throw new SluiceError(
      'INPUT_TOO_MANY_PIXELS',
      `the input is ${v.width}x${v.height} (${v.width * v.height} pixels); the limit is ${limits.maxPixels} pixels`,
    );
  }
  if (v) {
    const long = Math.max(v.displayWidth, v.displayHeight);
    const short = Math.max(1, Math.min(v.displayWidth, v.displayHeight));
    const shown = `${v.width}x${v.height} shows at ${v.displayWidth}x${v.displayHeight} after its sample aspect ratio`;
    if (long / short > limits.maxAspectRatio) {
      throw new SluiceError(
        'INPUT_BAD_ASPECT_RATIO',
        `the input's picture ${shown} (${(long / short).toFixed(1)}:1); the limit is ${limits.maxAspectRatio}:1. Fix the sample aspect ratio (e.g. ffmpeg -vf setsar=1) and submit again`,
      );
    }
    if (long > limits.maxDisplaySide || v.displayWidth * v.displayHeight > limits.maxPixels) {
      throw new SluiceError(
        'INPUT_DISPLAY_TOO_LARGE',
        `the input's picture ${shown}; the limit is ${limits.maxDisplaySide} pixels on the long side and ${limits.maxPixels} pixels in all`,
      );
    }
  }
  if (media.durationSeconds !== null && media.durationSeconds > limits.maxDurationSeconds) {
    throw new SluiceError(
      'INPUT_TOO_LONG',
      `the input lasts ${Math.round(media.durationSeconds)} s; the limit is ${limits.maxDurationSeconds} s`,
    );
  }
  const frames = estimatedFrames(media);
  if (v && frames !== null) {
    const rate = v.frameRate !== null ? ` (${v.frameRate} fps)` : '';
    if (frames > limits.maxFrames) {
      throw new SluiceError(
        'INPUT_TOO_MANY_FRAMES',
        `the input has about ${frames} video frames${rate}; the limit is ${limits.maxFrames}. Lower its frame rate or shorten it and submit again`,
      );
    }
    const work = frames * v.width * v.height;
    if (work > limits.maxPixelFrames) {
      throw new SluiceError(
        'INPUT_TOO_MUCH_WORK',
        `the input is ${frames} frames of ${v.width}x${v.height}${rate}, ${work} pixels to decode; the limit is ${limits.maxPixelFrames}. Lower its frame rate or size, or shorten it, and submit again`,
      );
    }
  }
}
