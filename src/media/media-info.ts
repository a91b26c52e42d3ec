// What ffprobe tells us about an input, reduced to what planning and users need. Parsing is pure.
import { SluiceError } from '../errors.ts';

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  /** Width and height as shown: sample aspect ratio and rotation applied. */
  displayWidth: number;
  displayHeight: number;
  rotation: number;
  frameRate: number | null;
  /** Frames the container says the stream has (nb_frames), when it says. */
  frameCount?: number | null;
  /** The stream's own start time and duration (s): an edit list or a large start_time can put the
   * video hours after the container's start, and the container's duration then counts that gap too. */
  startSeconds?: number | null;
  durationSeconds?: number | null;
  /** True when the nominal and average frame rates disagree: variable frame rate (phones, screen capture). */
  variableFrameRate: boolean;
  pixelFormat: string | null;
  bitDepth: number;
  colorTransfer: string | null;
  colorPrimaries: string | null;
  /** PQ (HDR10) or HLG transfer: needs tone mapping to play as SDR. */
  hdr: boolean;
  bitRate: number | null;
}

export interface AudioInfo {
  codec: string;
  channels: number;
  channelLayout: string | null;
  sampleRate: number | null;
  bitRate: number | null;
}

export interface MediaInfo {
  container: string;
  /** How long the media plays: the span of its audio and video streams when ffprobe knows them (what
   * ffmpeg encodes), else the container's duration. */
  durationSeconds: number | null;
  /** The container's start time: ffmpeg shifts every timestamp by it, so filter times count from it. */
  startSeconds?: number | null;
  sizeBytes: number | null;
  bitRate: number | null;
  video: VideoInfo | null;
  audio: AudioInfo | null;
  streamCount: number;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  start_time?: string;
  duration?: string;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  color_transfer?: string;
  color_primaries?: string;
  bit_rate?: string;
  channel_layout?: string;
  channels?: number;
  sample_rate?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
  disposition?: { attached_pic?: number };
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: {
    format_name?: string;
    start_time?: string;
    duration?: string;
    size?: string;
    bit_rate?: string;
  };
}

function num(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

export function parseRatio(value: string | undefined): number | null {
  if (!value) return null;
  const [a, b] = value.split(/[/:]/).map(Number);
  if (a === undefined || !Number.isFinite(a)) return null;
  if (b === undefined) return a > 0 ? a : null;
  if (!Number.isFinite(b) || b === 0 || a === 0) return null;
  return a / b;
}

function rotationOf(stream: ProbeStream): number {
  const fromSideData = stream.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const raw = fromSideData ?? num(stream.tags?.rotate) ?? 0;
  return ((Math.round(raw) % 360) + 360) % 360;
}

function bitDepthOf(stream: ProbeStream): number {
  const raw = num(stream.bits_per_raw_sample);
  if (raw) return raw;
  const m = /p(\d{2})(le|be)$/.exec(stream.pix_fmt ?? '');
  return m ? Number(m[1]) : 8;
}

/** Earliest start to latest end of the given streams, when every one of them knows both; else null. */
function streamSpan(streams: (ProbeStream | undefined)[]): number | null {
  const known = streams.filter((s): s is ProbeStream => s !== undefined);
  if (known.length === 0) return null;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const s of known) {
    const start = num(s.start_time);
    const duration = num(s.duration);
    if (start === null || duration === null || duration <= 0) return null;
    first = Math.min(first, start);
    last = Math.max(last, start + duration);
  }
  return Math.round((last - first) * 1000) / 1000;
}

export function parseProbe(json: string): MediaInfo {
  let data: ProbeOutput;
  try {
    data = JSON.parse(json) as ProbeOutput;
  } catch {
    throw new SluiceError('INPUT_UNREADABLE', 'ffprobe output is not JSON; the input is not a media file');
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SluiceError(
      'INPUT_UNREADABLE',
      'ffprobe output is not an object; the input is not a media file',
    );
  }
  const streams = data.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const a = streams.find((s) => s.codec_type === 'audio');
  let video: VideoInfo | null = null;
  if (v?.width && v.height) {
    const rotation = rotationOf(v);
    const sar = parseRatio(v.sample_aspect_ratio) ?? 1;
    const shownWidth = Math.round(v.width * (sar > 0 ? sar : 1));
    const quarterTurn = rotation === 90 || rotation === 270;
    const avg = parseRatio(v.avg_frame_rate);
    const nominal = parseRatio(v.r_frame_rate);
    // A nominal rate of 1000 or more with no average is a timebase (Matroska's 1000/1), not a rate. An
    // average is counted from the frames themselves, so a 1000 fps average is real and must be capped.
    const frameRate = avg ?? (nominal !== null && nominal < 1000 ? nominal : null);
    const transfer = v.color_transfer ?? null;
    video = {
      codec: v.codec_name ?? 'unknown',
      width: v.width,
      height: v.height,
      displayWidth: quarterTurn ? v.height : shownWidth,
      displayHeight: quarterTurn ? shownWidth : v.height,
      rotation,
      frameRate: frameRate !== null ? Math.round(frameRate * 1000) / 1000 : null,
      frameCount: num(v.nb_frames),
      startSeconds: num(v.start_time),
      durationSeconds: num(v.duration),
      variableFrameRate: avg !== null && nominal !== null && Math.abs(avg - nominal) / nominal > 0.01,
      pixelFormat: v.pix_fmt ?? null,
      bitDepth: bitDepthOf(v),
      colorTransfer: transfer,
      colorPrimaries: v.color_primaries ?? null,
      hdr: transfer === 'smpte2084' || transfer === 'arib-std-b67',
      bitRate: num(v.bit_rate),
    };
  }
  const audio: AudioInfo | null = a
    ? {
        codec: a.codec_name ?? 'unknown',
        channels: a.channels ?? 0,
        channelLayout: a.channel_layout ?? null,
        sampleRate: num(a.sample_rate),
        bitRate: num(a.bit_rate),
      }
    : null;
  return {
    container: data.format?.format_name ?? 'unknown',
    durationSeconds: streamSpan([v, a]) ?? num(data.format?.duration),
    startSeconds: num(data.format?.start_time),
    sizeBytes: num(data.format?.size),
    bitRate: num(data.format?.bit_rate),
    video,
    audio,
    streamCount: streams.length,
  };
}
