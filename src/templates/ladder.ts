// Ladder planning, pure: (template, probe) -> the concrete renditions, audio, packaging and previews a
// job will produce. Every rule the plan follows is here, each small enough to test on its own.
import { SluiceError } from '../errors.ts';
import type { MediaInfo, VideoInfo } from '../media/media-info.ts';
import { audioOnlyPlan, planAudioOfVideoTemplate, type SkippedPart } from './audio-input-plan.ts';
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
  /** RFC 6381 codec string for manifests: H.264 High profile at the level this size and rate need. */
  codecs: string;
}

export interface SpritePlan {
  intervalSeconds: number;
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Small frames in all (one per interval), and the sheets they fill. */
  count: number;
  sheets: number;
}

export interface Plan {
  renditions: PlannedRendition[];
  audio: { bitrateKbps: number; channels: number; codecs: string } | null;
  /** Constant output frame rate; null for audio only. */
  frameRate: number | null;
  /** The fps filter is needed: the source is variable-rate or faster than the template allows. */
  changeFrameRate: boolean;
  /** HDR (PQ/HLG) source: tone-mapped to SDR BT.709 so every browser shows it right. */
  toneMap: boolean;
  segmentSeconds: number;
  /** The whole input: from the first stream's start to the last stream's end. */
  durationSeconds: number | null;
  /**
   * Seconds the video's last frame is held (repeated) after the video track ends, so the video lasts as
   * long as the audio that outlasts it (a 0.5 s video with 4 s of audio). Without it the DASH manifest
   * says 0.5 s and players drop the rest of the sound. Absent or 0: no hold.
   */
  holdLastFrameSeconds?: number;
  thumbnail: { atSeconds: number; width: number; height: number } | null;
  sprites: SpritePlan | null;
  hls: boolean;
  dash: boolean;
  mp4: boolean;
  preset: string;
  /** Parts of the template this input cannot have (an audio file under a video template), and why. */
  skipped?: SkippedPart[];
}

/** Down to even: never a pixel more than the source has (853x479 -> 850x478). */
const even = (n: number): number => Math.max(2, Math.floor(n / 2) * 2);

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

/** Common frame rates; a measured 29.97002 is 30000/1001, not a new rate. */
const STANDARD_RATES = [23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60, 120];

/** Assumed for a source whose rate ffprobe could not tell; the fps filter then makes it true. */
const UNKNOWN_SOURCE_RATE = 30;

/**
 * The output's constant rate, never above the template's cap. The plan's rate is what the HLS master
 * claims, so whenever the source's rate is not known to be that rate already, the fps filter runs.
 */
export function outputFrameRate(video: VideoInfo, maxFrameRate: number): { rate: number; change: boolean } {
  if (video.frameRate === null) {
    return { rate: Math.min(UNKNOWN_SOURCE_RATE, maxFrameRate), change: true };
  }
  const source = video.frameRate;
  // 29.97 and 30 are 0.1% apart, so the match must be tighter than that.
  const standard =
    STANDARD_RATES.find((r) => Math.abs(r - source) / r < 0.0005) ?? Math.round(source * 1000) / 1000;
  if (standard > maxFrameRate) {
    // Halve where that lands under the cap (60 -> 30 keeps motion even), else take the cap itself.
    const half = standard / 2;
    return { rate: half <= maxFrameRate && half >= 23 ? half : maxFrameRate, change: true };
  }
  return { rate: standard, change: video.variableFrameRate };
}

/** H.264 level from macroblocks per frame and per second (ITU-T H.264 Table A-1), as `avc1.6400xx`. */
export function h264Codecs(width: number, height: number, fps: number): string {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const levels: [number, number, number][] = [
    [30, 1620, 40_500],
    [31, 3600, 108_000],
    [32, 5120, 216_000],
    [40, 8192, 245_760],
    [42, 8704, 522_240],
    [50, 22_080, 589_824],
    [51, 36_864, 983_040],
    [52, 36_864, 2_073_600],
  ];
  const level = levels.find(([, maxFs, maxMbps]) => mbs <= maxFs && mbs * fps <= maxMbps)?.[0] ?? 52;
  return `avc1.6400${level.toString(16).padStart(2, '0')}`;
}

/** The source's own video bitrate, when ffprobe knows it (stream, else container minus audio). */
function sourceVideoKbps(media: MediaInfo): number | null {
  const bps = media.video?.bitRate ?? (media.bitRate ? media.bitRate - (media.audio?.bitRate ?? 0) : null);
  return bps && bps > 0 ? Math.round(bps / 1000) : null;
}

/**
 * A source within this factor above its top kept rung (738p over 720p) has that rung raised to its own
 * size instead of a second rendition so close to it: players would have nothing to choose between, and
 * the encode would pay for one more rendition.
 */
const RAISE_WITHIN = 1.1;

type Rung = Template['ladder'][number];

/**
 * The rungs to encode: every rung the source can fill (never an upscale), and, when the source sits
 * between rungs, a top rung at the source's own short side, so the viewer keeps the quality that was
 * there (854x480 gets 480p above 360p, not 360p alone). Its bitrate is the rung above's scaled by pixel
 * count, and never under the rung below's: a bigger picture on fewer bits would look worse than it.
 * The source's own bitrate caps it later, as it caps every rendition.
 */
function chooseRungs(template: Template, video: VideoInfo): Rung[] {
  const sourceShort = Math.min(video.displayWidth, video.displayHeight);
  const rungs = [...template.ladder].sort((a, b) => b.height - a.height);
  if (template.allowUpscale) return rungs;
  const kept = rungs.filter((r) => r.height <= sourceShort);
  if (kept.length === 0) {
    // A source smaller than every rung still gets one rendition, at its own size and the lowest rate.
    const lowest = rungs[rungs.length - 1];
    if (!lowest) throw new SluiceError('INVALID_TEMPLATE', `template ${template.name} has an empty ladder`);
    return [{ ...lowest, height: sourceShort }];
  }
  const above = rungs.filter((r) => r.height > sourceShort).at(-1);
  const top = kept[0];
  // Sizes as encoded (even, at the display aspect): 853x479 is 852x478 in every case, and 478 is no rung.
  const own = fitShortSide(video.displayWidth, video.displayHeight, sourceShort);
  const pixels = (r: { height: number }) => {
    const s = fitShortSide(video.displayWidth, video.displayHeight, r.height);
    return s.width * s.height;
  };
  if (!above || !top || pixels(top) >= own.width * own.height) return kept;
  const scaled = Math.round((above.videoBitrateKbps * own.width * own.height) / pixels(above));
  const raise = sourceShort <= top.height * RAISE_WITHIN;
  const rest = raise ? kept.slice(1) : kept;
  const wanted = `${Math.min(own.width, own.height)}p`;
  const name = rest.some((r) => r.name === wanted) ? 'source' : wanted;
  return [{ name, height: sourceShort, videoBitrateKbps: Math.max(scaled, top.videoBitrateKbps) }, ...rest];
}

function planRenditions(
  template: Template,
  media: MediaInfo,
  video: VideoInfo,
  fps: number,
): PlannedRendition[] {
  const chosen = chooseRungs(template, video);
  const cap = sourceVideoKbps(media);
  return chosen.map((r) => {
    const size = fitShortSide(video.displayWidth, video.displayHeight, r.height);
    // Spending more bits than the source has buys nothing; cap at the source's rate (never below 100k).
    const kbps = cap !== null ? Math.max(100, Math.min(r.videoBitrateKbps, cap)) : r.videoBitrateKbps;
    const maxrate = Math.round(kbps * template.video.maxrateFactor);
    return {
      name: r.name,
      ...size,
      sar: sampleAspect(video.displayWidth, video.displayHeight, size.width, size.height),
      videoBitrateKbps: kbps,
      maxrateKbps: maxrate,
      bufsizeKbps: maxrate * 2,
      codecs: h264Codecs(size.width, size.height, fps),
    };
  });
}

function planSprites(template: Template, video: VideoInfo, duration: number | null): SpritePlan | null {
  const s = template.sprites;
  if (!s.enabled || !duration || duration <= 0) return null;
  const height = even((s.width * video.displayHeight) / video.displayWidth);
  const count = Math.max(1, Math.ceil(duration / s.intervalSeconds));
  return {
    intervalSeconds: s.intervalSeconds,
    width: even(s.width),
    height,
    columns: s.columns,
    rows: s.rows,
    count,
    sheets: Math.ceil(count / (s.columns * s.rows)),
  };
}

/**
 * Where the poster is taken, on the timeline ffmpeg's filters see: input timestamps minus the
 * container's start time. It lies inside the video stream (its own start and duration), which an edit
 * list or a large start_time can put hours away from the container's start and duration; a time
 * outside the stream has no frame, so ffmpeg would finish without a poster, every attempt.
 */
function posterTime(template: Template, media: MediaInfo, video: VideoInfo): number {
  const length = video.durationSeconds ?? media.durationSeconds;
  const offset =
    video.startSeconds != null && media.startSeconds != null
      ? Math.max(0, video.startSeconds - media.startSeconds)
      : 0;
  const wanted = template.thumbnail.atSeconds ?? (length ? (length * template.thumbnail.atPercent) / 100 : 0);
  // Never past the end: a frame must exist there.
  const within = length ? Math.min(wanted, Math.max(0, length - 0.5)) : 0;
  return offset + within;
}

/**
 * How long the audio outlasts the video, on the input's timeline (the video may start later than the
 * container, as in posterTime), when that is more than one output frame; else 0. AAC priming alone makes
 * audio run ~21 ms past the video, which is no reason to hold a frame.
 */
function holdSeconds(media: MediaInfo, video: VideoInfo, fps: number): number {
  if (!media.audio || media.durationSeconds == null || video.durationSeconds == null) return 0;
  const offset =
    video.startSeconds != null && media.startSeconds != null
      ? Math.max(0, video.startSeconds - media.startSeconds)
      : 0;
  const gap = media.durationSeconds - (offset + video.durationSeconds);
  return gap > 1 / fps ? Math.round(gap * 1000) / 1000 : 0;
}

export function planJob(template: Template, media: MediaInfo): Plan {
  const audio = media.audio
    ? {
        bitrateKbps: template.audio.bitrateKbps,
        channels: Math.min(template.audio.channels, Math.max(1, media.audio.channels)),
        codecs: 'mp4a.40.2',
      }
    : null;
  const common = {
    segmentSeconds: template.packaging.segmentSeconds,
    durationSeconds: media.durationSeconds,
    hls: template.packaging.hls,
    dash: template.packaging.dash,
    preset: template.video.preset,
  };
  if (template.ladder.length === 0) {
    if (!audio) {
      throw new SluiceError(
        'INPUT_NO_AUDIO',
        `template ${template.name} makes audio only; the input has no audio stream`,
      );
    }
    return audioOnlyPlan(common, audio);
  }
  const video = media.video;
  if (!video) return planAudioOfVideoTemplate(template, audio, common);
  const fps = outputFrameRate(video, template.video.maxFrameRate);
  const duration = media.durationSeconds;
  let thumbnail: Plan['thumbnail'] = null;
  if (template.thumbnail.enabled) {
    const short = Math.min(template.thumbnail.height, Math.min(video.displayWidth, video.displayHeight));
    const at = posterTime(template, media, video);
    thumbnail = {
      atSeconds: Math.round(at * 1000) / 1000,
      ...fitShortSide(video.displayWidth, video.displayHeight, short),
    };
  }
  return {
    ...common,
    renditions: planRenditions(template, media, video, fps.rate),
    audio,
    frameRate: fps.rate,
    changeFrameRate: fps.change,
    toneMap: video.hdr,
    holdLastFrameSeconds: holdSeconds(media, video, fps.rate),
    thumbnail,
    sprites: planSprites(template, video, duration),
    mp4: template.mp4.enabled,
  };
}
