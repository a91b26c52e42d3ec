// A chunk's receipt and the stitch's continuity check, pure: issue 13's groundwork, not yet used by the
// worker. A chunk counts as done only when its receipt is written, last, after every file it names; the
// stitch publishes nothing until every receipt is present and the pieces join up, per rendition:
//   - the init segment is byte-identical in every chunk (same encoder, same arguments);
//   - segments are numbered without a gap or an overlap, from each chunk's planned first segment;
//   - each segment's tfdt is the previous one's plus its duration, across chunk joins too;
//   - each chunk made exactly the frames the plan gave it.
import { z } from 'zod';
import type { ChunkRange } from '../templates/chunk-plan.ts';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A file of a part, relative to the part's folder (no `..`, no absolute path). */
const partPath = z
  .string()
  .min(1)
  .regex(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._/-]+$/);

/** Every file of a part with its size and checksum: enough to download a part from its receipt alone. */
export const PartFile = z.strictObject({
  path: partPath,
  bytes: z.number().int().min(0),
  sha256,
});
export type PartFile = z.infer<typeof PartFile>;

export const SegmentReceipt = z.strictObject({
  /** 0-based segment index on the whole output (the single pass's numbering). */
  index: z.number().int().min(0),
  /** Its file in the part (also listed in the receipt's `files`). */
  file: partPath,
  /** Base media decode time and duration, in the rendition's timescale. */
  tfdt: z.number().int().min(0),
  duration: z.number().int().positive(),
  bytes: z.number().int().positive(),
  sha256,
});
export type SegmentReceipt = z.infer<typeof SegmentReceipt>;

export const RenditionReceipt = z.strictObject({
  name: z.string().min(1),
  timescale: z.number().int().positive(),
  /** Its init segment's file in the part, and that file's checksum. */
  init: partPath,
  initSha256: sha256,
  /** Frames in this chunk's segments (pre-roll dropped). */
  frames: z.number().int().min(0),
  segments: z.array(SegmentReceipt).min(1),
});
export type RenditionReceipt = z.infer<typeof RenditionReceipt>;

/** One of the sprites' small frames: slot `index - 1` of the single pass's grid (frame-<index>.jpg). */
export const SpriteFrameReceipt = z.strictObject({
  index: z.number().int().min(1),
  file: partPath,
  bytes: z.number().int().positive(),
  sha256,
});
export type SpriteFrameReceipt = z.infer<typeof SpriteFrameReceipt>;

export const ChunkReceipt = z.strictObject({
  version: z.literal(1),
  kind: z.literal('chunk'),
  chunk: z.number().int().min(0),
  /** The attempt that made it (`<job id>-<attempt>`): a receipt from another attempt's files is not one. */
  madeBy: z.string().min(1),
  renditions: z.array(RenditionReceipt).min(1),
  /** The sprites' small frames of its range, in slot order (none when the plan has no sprites). */
  sprites: z.array(SpriteFrameReceipt),
  /** Every file of the part but the receipt, in upload order. */
  files: z.array(PartFile).min(1),
});
export type ChunkReceipt = z.infer<typeof ChunkReceipt>;

/** The audio part: the whole input's audio track (when the plan has audio) and the poster. */
export const AudioReceipt = z.strictObject({
  version: z.literal(1),
  kind: z.literal('audio'),
  madeBy: z.string().min(1),
  /** The audio track, its segments already numbered and timed as published; null: the plan has none. */
  audio: RenditionReceipt.nullable(),
  poster: partPath.nullable(),
  files: z.array(PartFile),
});
export type AudioReceipt = z.infer<typeof AudioReceipt>;

export interface ContinuityProblem {
  chunk: number;
  rendition: string | null;
  problem: string;
}

export type Continuity =
  | { ok: true; frames: Record<string, number>; segments: Record<string, number> }
  | { ok: false; problems: ContinuityProblem[]; missing: number[] };

/**
 * Checks the receipts of every planned chunk. `missing` names the chunks to encode again (no receipt, or
 * one that does not parse); `problems` says what else does not join up (a stitch must not publish then).
 */
export function checkContinuity(
  chunks: readonly ChunkRange[],
  receipts: ReadonlyMap<number, unknown>,
): Continuity {
  const problems: ContinuityProblem[] = [];
  const missing: number[] = [];
  const parsed: ChunkReceipt[] = [];
  for (const c of chunks) {
    const r = ChunkReceipt.safeParse(receipts.get(c.index));
    if (!r.success || r.data.chunk !== c.index) missing.push(c.index);
    else parsed.push(r.data);
  }
  if (missing.length > 0) return { ok: false, problems, missing };

  const names = (parsed[0]?.renditions ?? []).map((r) => r.name);
  const frames: Record<string, number> = {};
  const segments: Record<string, number> = {};
  for (const name of names) {
    let init: string | null = null;
    let next: { index: number; tfdt: number } | null = null;
    frames[name] = 0;
    segments[name] = 0;
    for (const [i, receipt] of parsed.entries()) {
      const c = chunks[i] as ChunkRange;
      const say = (problem: string) => problems.push({ chunk: c.index, rendition: name, problem });
      const r = receipt.renditions.find((x) => x.name === name);
      if (!r) {
        say('no such rendition in this chunk');
        continue;
      }
      if (init === null) init = r.initSha256;
      else if (r.initSha256 !== init) say('its init segment differs from the first chunk’s');
      const first = r.segments[0] as SegmentReceipt;
      if (first.index !== c.firstSegment) say(`starts at segment ${first.index}, planned ${c.firstSegment}`);
      if (c.segments !== null && r.segments.length !== c.segments) {
        say(`has ${r.segments.length} segments, planned ${c.segments}`);
      }
      if (c.endFrame !== null && r.frames !== c.endFrame - c.firstFrame) {
        say(`has ${r.frames} frames, planned ${c.endFrame - c.firstFrame}`);
      }
      for (const s of r.segments) {
        if (next && s.index !== next.index) say(`segment ${s.index} follows ${next.index - 1}`);
        if (next && s.tfdt !== next.tfdt)
          say(`segment ${s.index} starts at tfdt ${s.tfdt}, not ${next.tfdt}`);
        next = { index: s.index + 1, tfdt: s.tfdt + s.duration };
      }
      frames[name] += r.frames;
      segments[name] += r.segments.length;
    }
  }
  for (const [i, receipt] of parsed.entries()) {
    const extra = receipt.renditions.filter((r) => !names.includes(r.name)).map((r) => r.name);
    if (extra.length > 0) {
      problems.push({
        chunk: chunks[i]?.index ?? i,
        rendition: null,
        problem: `renditions ${extra.join(', ')} are not the first chunk’s`,
      });
    }
  }
  return problems.length > 0 ? { ok: false, problems, missing } : { ok: true, frames, segments };
}

/** A chunk's planned sprite slots (chunk-args.ts chunkSpriteSlots): the first (0-based) and how many. */
export interface PlannedSprites {
  chunk: number;
  first: number;
  count: number;
}

/**
 * The sprites' small frames across the chunks: each chunk has exactly its planned slots, in order, so
 * together they are numbered 1, 2, ... without a gap or an overlap, as many as the single pass makes.
 */
export function checkSpriteFrames(
  planned: readonly PlannedSprites[],
  receipts: ReadonlyMap<number, ChunkReceipt>,
): ContinuityProblem[] {
  const problems: ContinuityProblem[] = [];
  for (const p of planned) {
    const got = (receipts.get(p.chunk)?.sprites ?? []).map((s) => s.index);
    const want = Array.from({ length: p.count }, (_, i) => p.first + 1 + i);
    if (got.join(',') === want.join(',')) continue;
    const gone = want.filter((i) => !got.includes(i));
    const extra = got.filter((i) => !want.includes(i));
    const parts = [
      ...(gone.length > 0 ? [`sprite frames ${span(gone)} are missing`] : []),
      ...(extra.length > 0 ? [`sprite frames ${span(extra)} are not its own`] : []),
    ];
    problems.push({
      chunk: p.chunk,
      rendition: null,
      problem: parts.length > 0 ? parts.join(', ') : 'its sprite frames are out of order',
    });
  }
  return problems;
}

/** 3, 4, 5, 9 -> "3-5, 9". */
function span(ns: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < ns.length) {
    let j = i;
    while (j + 1 < ns.length && (ns[j + 1] as number) === (ns[j] as number) + 1) j++;
    out.push(j > i ? `${ns[i]}-${ns[j]}` : String(ns[i]));
    i = j + 1;
  }
  return out.join(', ');
}
