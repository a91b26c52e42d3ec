// ffmpeg arguments for chunked (accelerated) encoding, pure (issue 13). A chunk part is one ffmpeg: one
// decode of the chunk's range (plus one segment of pre-roll before it) feeding every rendition, each to
// its own fragmented MP4, one fragment per keyframe, and the sprites' small frames of its range. The audio
// part is a second kind of process: the whole input's audio once (one AAC priming, gapless) through the
// same DASH muxer as the single pass, and the poster (a seeking input: no decode of the whole video).
//
// How a chunk lands on the single pass's frames: the input seek lands a little before the pre-roll with
// timestamps kept (-copyts); the source's first timestamp is subtracted (the single pass's timeline
// starts there) and the fps filter puts frames on the output rate's grid, which is anchored at 0, so each
// output frame is the one the single pass has in that slot, for variable-rate sources too. `trim` keeps
// [encodeFrom, end) in frames and setpts starts the encode at 0, so every chunk's encoder and muxer see
// the same start: the init segment (codec headers, edit list for the B-frame delay) is byte-identical in
// every chunk. Keyframes are forced on the single pass's grid (frame ceil(k × S × rate)), counted from
// the chunk's first frame; the encoder options are the single pass's (buildTranscodeArgs), one set per
// rendition, so rate control and quality match it.
//
// The sprites' grid is the single pass's `fps=1/I` on its constant-rate frames: slot k (time k × I) shows
// the last frame before (k + 0.5) × I, output frame ceil((k + 0.5) × I × rate) - 1, and a slot exists when
// that frame does (the filter's rounding at the end). A chunk makes the slots whose frames it has, named
// by their global number (frame-<k + 1>.jpg); the stitch tiles them all.
import path from 'node:path';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import { segmentStartFrame } from '../templates/chunk-plan.ts';
import type { Plan, PlannedRendition } from '../templates/ladder.ts';
import {
  AUDIO_RATE,
  audioEndSample,
  FULL_RANGE_JPEG,
  imageOutputArgs,
  kbps,
  POSTER_READ_SECONDS,
  SAR_MAX,
  TONE_MAP,
} from './ffmpeg-args.ts';
import { filterThreadArgs, threadArgs } from './ffmpeg-threads.ts';
import { inputRestrictions } from './input-policy.ts';

const HEAD = [
  '-hide_banner',
  '-nostdin',
  '-y',
  '-loglevel',
  'level+warning',
  '-progress',
  'pipe:1',
  '-nostats',
];

/** Fragmented MP4 whose fragments can be moved: moof-relative offsets, an init with the edit list. */
const FRAGMENTED = ['-movflags', '+frag_keyframe+empty_moov+delay_moov+default_base_moof'];
/** No build strings or creation times in the init: byte-identical across chunks of one ffmpeg build. */
const BITEXACT = ['-fflags', '+bitexact', '-map_metadata', '-1', '-map_chapters', '-1'];

/** Where a chunk's encode begins: its first segment, or one segment earlier (pre-roll). */
export function encodeFromSegment(chunk: ChunkRange): number {
  return chunk.index === 0 || chunk.firstSegment === 0 ? chunk.firstSegment : chunk.firstSegment - 1;
}

/** The output frame a chunk's encode begins at (its pre-roll's first frame). */
export function encodeFromFrame(chunk: ChunkRange, plan: Plan): number {
  return segmentStartFrame(encodeFromSegment(chunk), plan.segmentSeconds, rateOf(plan));
}

function rateOf(plan: Plan): number {
  if (!plan.frameRate) throw new Error('a chunk plan needs a video frame rate');
  return plan.frameRate;
}

/** A number for a filter or expression: plain decimal, no exponent. */
function dec(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(9).replace(/0+$/, '');
}

/** Near-integers computed in floating point count as the integer (as segmentStartFrame does). */
const EPS = 1e-6;

/** A number for an ffmpeg expression that parses back to the same double (no exponent). */
function exact(n: number): string {
  const s = String(n);
  if (/e/i.test(s)) throw new Error(`${s} has no plain decimal form`);
  return s;
}

/** The output frame sprite slot `k` (time k × interval) shows: the single pass's fps=1/interval pick. */
export function spritePick(k: number, intervalSeconds: number, frameRate: number): number {
  return Math.max(0, Math.ceil((k + 0.5) * intervalSeconds * frameRate - EPS) - 1);
}

/** Sprite slots whose frame comes before output frame `frame`: also the first slot at or after it. */
export function spriteSlotsBefore(frame: number, intervalSeconds: number, frameRate: number): number {
  let k = Math.max(0, Math.floor(frame / (intervalSeconds * frameRate)) - 2);
  while (spritePick(k, intervalSeconds, frameRate) < frame) k++;
  return k;
}

/**
 * A chunk's sprite slots: the first one (0-based; its file is frame-<first + 1>) and how many, those whose
 * frame is in [firstFrame, endFrame). The last chunk's end is the video's: `totalFrames` when known.
 */
export function chunkSpriteSlots(
  plan: Plan,
  chunk: Pick<ChunkRange, 'firstFrame' | 'endFrame'>,
  totalFrames?: number,
): { first: number; count: number | null } | null {
  if (!plan.sprites) return null;
  const rate = rateOf(plan);
  const { intervalSeconds } = plan.sprites;
  const first = spriteSlotsBefore(chunk.firstFrame, intervalSeconds, rate);
  const end = chunk.endFrame ?? totalFrames ?? null;
  return { first, count: end === null ? null : spriteSlotsBefore(end, intervalSeconds, rate) - first };
}

/**
 * The sprite branch of a chunk: of its frames (n counted from the encode's first, output frame `from`),
 * those at or after `firstFrame` that some slot picks, i.e. a grid point (k + 0.5) × I × rate within
 * (g, g + 1] for output frame g. Then the single pass's scaling.
 */
function spriteBranch(plan: Plan, chunk: ChunkRange, from: number): string {
  const s = plan.sprites as NonNullable<Plan['sprites']>;
  const perSlot = `(${exact(s.intervalSeconds)}*${exact(rateOf(plan))})`;
  const slots = (plus: number) => `floor((n+${from + plus}+${EPS.toFixed(6)})/${perSlot}+0.5)`;
  const picked = `gte(n\\,${chunk.firstFrame - from})*gt(${slots(1)}\\,${slots(0)})`;
  return `select=${picked},scale=${s.width}:${s.height}:out_range=full,setsar=1,format=yuv420p`;
}

/** The single pass's encoder options for rendition `i` (buildTranscodeArgs), for an output of its own. */
export function renditionEncoderArgs(plan: Plan, r: PlannedRendition, keyframes: string): string[] {
  return [
    '-b:v:0',
    kbps(r.videoBitrateKbps),
    '-maxrate:v:0',
    kbps(r.maxrateKbps),
    '-bufsize:v:0',
    kbps(r.bufsizeKbps),
    '-c:v',
    'libx264',
    '-preset',
    plan.preset,
    '-profile:v',
    'high',
    '-force_key_frames',
    keyframes,
    '-sc_threshold',
    '0',
    '-flags',
    '+global_header',
  ];
}

export interface ChunkArgsInput {
  plan: Plan;
  chunk: ChunkRange;
  input: string;
  /** The source timeline's first timestamp (MediaInfo.startSeconds): the single pass's time 0. */
  sourceStartSeconds: number;
  /**
   * The container's first timestamp (MediaInfo.startSeconds): ffmpeg's `-ss` counts from it even with
   * -copyts, so the chunk's seek (on the source's own timeline) is given relative to it.
   */
  containerStartSeconds: number;
  /** Output file of each rendition, in plan order. */
  outputs: string[];
  /** The sprites' small frames (an image2 pattern, frame-%05d.jpg); null: the chunk makes none. */
  spriteFrames?: string | null;
  /** ffmpeg's threads (ffmpeg-threads.ts); null: its own choice. */
  threads?: number | null;
}

/** Frames this chunk encodes (pre-roll included); null: to the input's end. */
export function chunkEncodeFrames(plan: Plan, chunk: ChunkRange): number | null {
  return chunk.endFrame === null ? null : chunk.endFrame - encodeFromFrame(chunk, plan);
}

export function buildChunkArgs(o: ChunkArgsInput): string[] {
  const { plan, chunk } = o;
  const rate = rateOf(plan);
  const from = encodeFromFrame(chunk, plan);
  const n = plan.renditions.length;
  const pre: string[] = [];
  if (plan.toneMap) pre.push(TONE_MAP);
  // The rate as the single pass writes it (fps=<plan.frameRate>). The fps filter's time base is one
  // frame, so a frame's pts is its output frame number and trim cuts in whole frames.
  // The first chunk's grid starts at 0 even when the video starts later: the single pass's output
  // (constant-rate sync) fills that gap with its first frame too.
  const anchor = chunk.index === 0 ? ':start_time=0' : '';
  pre.push(`setpts=PTS-${dec(o.sourceStartSeconds)}/TB`, `fps=${rate}${anchor}`);
  const trim = [`start_pts=${from}`];
  if (chunk.endFrame !== null) trim.push(`end_pts=${chunk.endFrame}`);
  pre.push(`trim=${trim.join(':')}`);
  const hold = plan.holdLastFrameSeconds ?? 0;
  if (chunk.endFrame === null && hold > 0) {
    pre.push(`tpad=stop_mode=clone:stop=${Math.ceil(hold * rate - 1e-6)}`);
  }
  pre.push('setpts=PTS-STARTPTS');
  const sprites = plan.sprites && o.spriteFrames ? chunkSpriteSlots(plan, chunk) : null;
  const branches = n + (sprites ? 1 : 0);
  const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`).join('');
  const filters = [`[0:v:0]${pre.join(',')},split=${branches}${labels}`];
  plan.renditions.forEach((r, i) => {
    filters.push(
      `[s${i}]scale=${r.width}:${r.height}:flags=bicubic,setsar=sar=${r.sar}:max=${SAR_MAX},format=yuv420p[v${i}]`,
    );
  });
  if (sprites) filters.push(`[s${n}]${spriteBranch(plan, chunk, from)}[sp]`);
  // Keyframe where the single pass has one: output frame n + from reaches the next boundary's frame.
  const k0 = encodeFromSegment(chunk);
  const perSegment = dec(plan.segmentSeconds * rate);
  const keyframes = `expr:gte(n+${from},ceil((n_forced+${k0})*${perSegment}-0.000001))`;
  const args = [
    ...HEAD,
    ...filterThreadArgs(o.threads),
    ...inputRestrictions(),
    ...threadArgs(o.threads),
    '-copyts',
    '-ss',
    dec(Math.max(0, chunk.seekSeconds - o.containerStartSeconds)),
    '-i',
    o.input,
    '-filter_complex',
    filters.join(';'),
  ];
  plan.renditions.forEach((r, i) => {
    const out = o.outputs[i];
    if (!out) throw new Error(`no output file for rendition ${i}`);
    args.push('-map', `[v${i}]`, ...renditionEncoderArgs(plan, r, keyframes));
    args.push(...BITEXACT, ...FRAGMENTED, ...threadArgs(o.threads), '-f', 'mp4', out);
  });
  if (sprites && o.spriteFrames) {
    // As the single pass writes them (imageOutputArgs), numbered by slot; the selected frames keep
    // their times, so no constant-rate sync may fill the gaps between them with copies.
    args.push('-map', '[sp]', '-fps_mode:v', 'passthrough', '-q:v', '2', ...FULL_RANGE_JPEG);
    args.push('-start_number', String(sprites.first + 1), ...threadArgs(o.threads), o.spriteFrames);
  }
  return args;
}

export interface AudioPartPaths {
  input: string;
  /** Folder for the audio track's init and segments (the DASH muxer's files). */
  audioDir: string;
  /** Representation id the audio has in the stitched layout: the last one (renditions.length). */
  audioId: number;
  thumbnail: string;
  /** ffmpeg's threads (ffmpeg-threads.ts); null: its own choice. */
  threads?: number | null;
}

/**
 * The audio part: the whole input's audio as the single pass encodes it (same encoder options, cut to
 * audioEndSample, same DASH muxer and segment length, so the same segments) and the poster from a
 * seeking second input. The sprites come from the chunks (buildChunkArgs), so no whole-video decode.
 */
export function buildAudioPartArgs(plan: Plan, p: AudioPartPaths): string[] {
  const args = [
    ...HEAD,
    ...filterThreadArgs(p.threads),
    ...inputRestrictions(),
    ...threadArgs(p.threads),
    '-i',
    p.input,
  ];
  if (plan.thumbnail) {
    // Read at most POSTER_READ_SECONDS of it: ffmpeg 5.1 keeps decoding an input whose only output has
    // its one frame (a second decode of the rest of the video: 4.5 s instead of 1 s for 60 s of 1080p).
    args.push(...inputRestrictions(), ...threadArgs(p.threads), '-ss', String(plan.thumbnail.atSeconds));
    args.push('-t', String(POSTER_READ_SECONDS), '-i', p.input);
  }
  if (plan.audio) {
    args.push('-map', '0:a:0', '-c:a', 'aac', '-b:a', kbps(plan.audio.bitrateKbps));
    args.push('-ac', String(plan.audio.channels), '-ar', String(AUDIO_RATE));
    const trim = audioEndSample(plan.durationSeconds);
    if (trim !== null) args.push('-af', `aresample=${AUDIO_RATE},atrim=end_sample=${trim}`);
    args.push('-flags', '+global_header', ...BITEXACT);
    args.push(
      '-f',
      'dash',
      '-seg_duration',
      String(plan.segmentSeconds),
      '-use_template',
      '1',
      '-use_timeline',
      '0',
      '-hls_playlist',
      '0',
      '-init_seg_name',
      `init-${p.audioId}.m4s`,
      '-media_seg_name',
      `chunk-${p.audioId}-$Number%05d$.m4s`,
      ...threadArgs(p.threads),
      path.join(p.audioDir, 'audio.mpd'),
    );
  }
  args.push(
    ...imageOutputArgs(
      { ...plan, sprites: null },
      { thumbnail: p.thumbnail, spriteFrames: '', threads: p.threads },
    ),
  );
  return args;
}
