// Where a long input is cut for chunked (accelerated) encoding, pure: issue 13's groundwork, not yet used
// by the worker. Chunks are cut on segment boundaries, so each chunk's segments are exactly the segments
// the single pass would have made. The single pass forces a keyframe at the first frame whose time is at
// or past k × segmentSeconds (ffmpeg-args.ts: `expr:gte(t,n_forced*S)`), so segment k begins at output
// frame ceil(k × S × rate); a chunk that begins there and is encoded at the same constant rate from the
// same timeline numbers its frames, segments and tfdt exactly as the single pass does.
//
// Every chunk but the first also encodes one segment before its own (pre-roll, dropped afterwards), so the
// rate controller is warm at the chunk's first frame; its input seek lands a little before the pre-roll
// (timestamps kept: -copyts) so the constant-rate conversion sees the frame before the boundary too.
import { SluiceError } from '../errors.ts';

/** Shorter chunks spend more of each encode on pre-roll and start-up than on the chunk itself. */
export const MIN_CHUNK_SECONDS = 10;
/** How far before the pre-roll the input seek lands (seconds on the source's own timeline). */
export const SEEK_MARGIN_SECONDS = 1;

export interface ChunkPlanInput {
  /** The input's duration (Plan.durationSeconds). */
  durationSeconds: number;
  /** The source timeline's first timestamp: not 0 for many MPEG-TS and some MXF/MOV sources. */
  sourceStartSeconds: number;
  /** The output's constant frame rate (Plan.frameRate). */
  frameRate: number;
  segmentSeconds: number;
  /** A whole number of segments, at least MIN_CHUNK_SECONDS. */
  chunkSeconds: number;
  /** Inputs shorter than this keep the single pass. */
  minInputSeconds: number;
}

export interface ChunkRange {
  index: number;
  /** Output frame numbers it makes: from `firstFrame`, up to `endFrame` (exclusive; null: the input's end). */
  firstFrame: number;
  endFrame: number | null;
  /** The 0-based index of its first segment, and how many it makes (null: to the input's end). */
  firstSegment: number;
  segments: number | null;
  /** Its range on the output timeline (0 = the source's first timestamp), in seconds. */
  startSeconds: number;
  endSeconds: number;
  /** Where its encode begins on the output timeline: one segment before `startSeconds` (0 for the first). */
  encodeFromSeconds: number;
  /** The input seek on the source's own timeline (with -copyts), never before its first timestamp. ffmpeg's
   * `-ss` counts from the container's start even with -copyts: chunk-args.ts gives it relative to that. */
  seekSeconds: number;
}

/** Output frame where segment `k` begins (the single pass's forced keyframe). */
export function segmentStartFrame(k: number, segmentSeconds: number, frameRate: number): number {
  // k × S × rate is often a whole number computed inexactly (4 × 29.97 × 25 = 2997.0000000000005).
  return Math.max(0, Math.ceil(k * segmentSeconds * frameRate - 1e-6));
}

/** True when `chunkSeconds` is a whole number of segments. */
export function isWholeSegments(chunkSeconds: number, segmentSeconds: number): boolean {
  const segments = chunkSeconds / segmentSeconds;
  return Math.abs(segments - Math.round(segments)) <= 1e-9 && segments >= 1;
}

/** Checks chunk settings against the segment length; INVALID_TEMPLATE names the field. */
export function checkChunkSeconds(chunkSeconds: number, segmentSeconds: number): void {
  if (!(chunkSeconds >= MIN_CHUNK_SECONDS)) {
    throw new SluiceError(
      'INVALID_TEMPLATE',
      `chunking.chunkSeconds is ${chunkSeconds}; a chunk is at least ${MIN_CHUNK_SECONDS} s (shorter chunks spend their time on pre-roll)`,
    );
  }
  if (!isWholeSegments(chunkSeconds, segmentSeconds)) {
    throw new SluiceError(
      'INVALID_TEMPLATE',
      `chunking.chunkSeconds (${chunkSeconds}) must be a whole number of segments (packaging.segmentSeconds is ${segmentSeconds}): chunks are cut on segment boundaries`,
    );
  }
}

/**
 * The chunks of an input, or null when it keeps the single pass (shorter than `minInputSeconds`, or one
 * chunk would hold it all). A last piece shorter than half a chunk joins the one before it, so no chunk is
 * a sliver and the slowest one stays under 1.5 chunks.
 */
export function planChunks(o: ChunkPlanInput): ChunkRange[] | null {
  checkChunkSeconds(o.chunkSeconds, o.segmentSeconds);
  if (!(o.durationSeconds > 0) || !(o.frameRate > 0)) return null;
  if (o.durationSeconds < o.minInputSeconds) return null;
  const perChunk = Math.round(o.chunkSeconds / o.segmentSeconds);
  const totalSegments = Math.ceil(o.durationSeconds / o.segmentSeconds - 1e-9);
  let count = Math.floor(totalSegments / perChunk);
  const rest = totalSegments - count * perChunk;
  if (rest * 2 >= perChunk) count++;
  if (count < 2) return null;
  const chunks: ChunkRange[] = [];
  for (let index = 0; index < count; index++) {
    const firstSegment = index * perChunk;
    const last = index === count - 1;
    const startSeconds = firstSegment * o.segmentSeconds;
    const encodeFromSeconds = index === 0 ? 0 : startSeconds - o.segmentSeconds;
    chunks.push({
      index,
      firstFrame: segmentStartFrame(firstSegment, o.segmentSeconds, o.frameRate),
      endFrame: last ? null : segmentStartFrame(firstSegment + perChunk, o.segmentSeconds, o.frameRate),
      firstSegment,
      segments: last ? null : perChunk,
      startSeconds,
      endSeconds: last ? o.durationSeconds : startSeconds + perChunk * o.segmentSeconds,
      encodeFromSeconds,
      seekSeconds: Math.max(
        o.sourceStartSeconds,
        o.sourceStartSeconds + encodeFromSeconds - SEEK_MARGIN_SECONDS,
      ),
    });
  }
  return chunks;
}
