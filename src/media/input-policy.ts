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
}

export const DEFAULT_LIMITS: InputLimits = {
  maxBytes: 50 * 1024 ** 3,
  maxPixels: 8192 * 4352,
  maxDurationSeconds: 12 * 3600,
  maxStreams: 32,
};

export function checkSize(bytes: number, limits: InputLimits): void {
  if (bytes === 0) throw new SluiceError('INPUT_EMPTY', 'the input is empty (0 bytes)');
  if (bytes > limits.maxBytes) {
    throw new SluiceError('INPUT_TOO_BIG', `the input is ${bytes} bytes; the limit is ${limits.maxBytes}`);
  }
}

/** The probe's verdict against the allowlist and the limits; throws the specific refusal. */
export function checkProbe(media: MediaInfo, limits: InputLimits): void {
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
  if (media.durationSeconds !== null && media.durationSeconds > limits.maxDurationSeconds) {
    throw new SluiceError(
      'INPUT_TOO_LONG',
      `the input lasts ${Math.round(media.durationSeconds)} s; the limit is ${limits.maxDurationSeconds} s`,
    );
  }
}
