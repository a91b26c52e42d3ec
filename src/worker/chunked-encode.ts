// The media half of a chunked (accelerated) encode, on local files (issue 13): which chunks a job has,
// and the two kinds of part a worker makes: a chunk (every rendition of one range of the video, and the
// sprites' small frames of that range) and the audio part (the whole audio track, the poster). Each part
// is a folder of files with a receipt written last; its segments are already final (numbered and timed
// as published), so a part is never rewritten after its receipt. stitch-parts.ts verifies the parts and
// lays out the stream.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import type { JobProgress } from '../jobs/job.ts';
import {
  buildAudioPartArgs,
  buildChunkArgs,
  chunkEncodeFrames,
  chunkSpriteSlots,
  encodeFromFrame,
} from '../media/chunk-args.ts';
import {
  AudioReceipt,
  ChunkReceipt,
  type PartFile,
  type RenditionReceipt,
  type SpriteFrameReceipt,
} from '../media/chunk-receipt.ts';
import { SPRITE_FRAMES_DIR } from '../media/ffmpeg-args.ts';
import { ffmpegThreads } from '../media/ffmpeg-threads.ts';
import { fragmentInfo, rewriteFragment, splitFragmented, trackDefaults } from '../media/fmp4.ts';
import type { MediaInfo } from '../media/media-info.ts';
import { toJobProgress } from '../media/progress.ts';
import { type FfmpegRun, runFfmpeg } from '../media/run-ffmpeg.ts';
import { initName, segmentName } from '../media/stitch-manifests.ts';
import { type ChunkRange, planChunks, segmentStartFrame } from '../templates/chunk-plan.ts';
import { type Plan, planJob } from '../templates/ladder.ts';
import type { Template } from '../templates/template.ts';

export { stitchParts } from './stitch-parts.ts';

/** A part's local files: `files` relative to `dir`, in upload order, 'receipt.json' LAST. */
export interface PartFiles {
  dir: string;
  files: string[];
}

export interface PartHooks {
  madeBy: string;
  onProgress?: (p: JobProgress) => void;
  onStart?: (run: FfmpegRun) => void;
}

export const RECEIPT = 'receipt.json';

/** Folder name of a part inside the parts area: 'chunk-0003', 'audio'. */
export function partFolder(part: { kind: 'chunk'; index: number } | { kind: 'audio' }): string {
  return part.kind === 'audio' ? 'audio' : `chunk-${String(part.index).padStart(4, '0')}`;
}

/**
 * The chunks of a job, or null when it keeps the single pass (chunking off, no video, a short input).
 * Refuses nothing but settings planChunks refuses (INVALID_TEMPLATE): VFR, audio longer or shorter than
 * the video, a timeline not starting at 0, a video starting after its audio, rotation and sparse
 * keyframes are all chunked to the single pass's frames (test/worker/chunked-inputs.test.ts).
 */
export function chunksOf(template: Template, media: MediaInfo): ChunkRange[] | null {
  if (!template.chunking.enabled || !media.video) return null;
  const plan = planJob(template, media);
  if (plan.renditions.length === 0 || !plan.frameRate || !plan.durationSeconds) return null;
  const chunks = planChunks({
    durationSeconds: plan.durationSeconds,
    sourceStartSeconds: media.startSeconds ?? 0,
    frameRate: plan.frameRate,
    segmentSeconds: plan.segmentSeconds,
    chunkSeconds: template.chunking.chunkSeconds,
    minInputSeconds: template.chunking.minInputSeconds,
  });
  return chunks;
}

export async function sha256File(file: string): Promise<{ bytes: number; sha256: string }> {
  const buf = await fs.readFile(file);
  return { bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

function broken(chunk: number, rendition: string, problem: string): never {
  throw new SluiceError('CHUNK_DISCONTINUITY', `chunk ${chunk}, rendition ${rendition}: ${problem}`, {
    chunks: [chunk],
  });
}

/**
 * One rendition's fragmented MP4 of a chunk -> its final segments in `dir`: pre-roll dropped, fragments
 * grouped into the single pass's segments (a segment starts at frame ceil(k × S × rate), on a keyframe),
 * tfdt moved onto the whole output's timeline and mfhd numbered by segment.
 */
async function cutRendition(
  plan: Plan,
  chunk: ChunkRange,
  id: number,
  raw: string,
  dir: string,
): Promise<{ receipt: RenditionReceipt; files: string[] }> {
  const name = plan.renditions[id]?.name ?? String(id);
  const rate = plan.frameRate as number;
  const buf = await fs.readFile(raw);
  const { init, fragments } = splitFragmented(buf);
  const defaults = trackDefaults(init);
  const timescale = defaults[0]?.timescale;
  if (!timescale) broken(chunk.index, name, 'no track in its init segment');
  const from = encodeFromFrame(chunk, plan);
  const infos = fragments.map((f) => fragmentInfo(buf, f.moof, defaults));
  const first = infos[0];
  if (!first || first.samples === 0) broken(chunk.index, name, 'the encode made no frames');
  const ticks = first.duration / first.samples;
  if (!Number.isInteger(ticks) || ticks <= 0) {
    broken(chunk.index, name, `a frame lasts ${ticks} ticks of 1/${timescale} s, not a whole number`);
  }
  const offset = from * ticks;
  const segments: { index: number; parts: Buffer[]; tfdt: number; duration: number }[] = [];
  let frame = from;
  let next = chunk.firstSegment;
  let frames = 0;
  for (const [i, info] of infos.entries()) {
    const f = fragments[i] as (typeof fragments)[number];
    const starts = frame;
    frame += info.samples;
    if (starts < chunk.firstFrame) {
      if (frame > chunk.firstFrame) broken(chunk.index, name, `pre-roll runs past frame ${chunk.firstFrame}`);
      continue;
    }
    if (chunk.endFrame !== null && starts >= chunk.endFrame) broken(chunk.index, name, 'frames past its end');
    const boundary = segmentStartFrame(next, plan.segmentSeconds, rate);
    if (starts === boundary) {
      if (!info.keyframe) broken(chunk.index, name, `segment ${next} does not start on a keyframe`);
      segments.push({ index: next, parts: [], tfdt: info.tfdt + offset, duration: 0 });
      next++;
    } else if (starts > boundary || segments.length === 0) {
      broken(
        chunk.index,
        name,
        `a fragment at frame ${starts} crosses segment ${next}'s start (frame ${boundary})`,
      );
    }
    if (info.tfdt !== (starts - from) * ticks) {
      broken(
        chunk.index,
        name,
        `fragment at frame ${starts} has tfdt ${info.tfdt}, not ${(starts - from) * ticks}`,
      );
    }
    const seg = segments[segments.length - 1] as (typeof segments)[number];
    seg.parts.push(rewriteFragment(buf, f, seg.index + 1, info.tfdt + offset));
    seg.duration += info.duration;
    frames += info.samples;
  }
  if (chunk.endFrame !== null && frames !== chunk.endFrame - chunk.firstFrame) {
    broken(chunk.index, name, `made ${frames} frames, planned ${chunk.endFrame - chunk.firstFrame}`);
  }
  if (segments.length === 0) broken(chunk.index, name, 'no segment after its pre-roll');
  // As finishPackaging does to the single pass (tinyTail): a last segment under min(0.5 s, S/4) joins
  // the one before, so the manifests built from the receipts list the segments the folder holds.
  const tail = segments[segments.length - 1];
  const before = segments[segments.length - 2];
  if (chunk.endFrame === null && tail && before && tail.duration < tinyTicks(plan, timescale)) {
    before.parts.push(...tail.parts);
    before.duration += tail.duration;
    segments.pop();
  }
  const files = [initName(id)];
  await fs.writeFile(path.join(dir, initName(id)), init);
  const receiptSegments = [];
  for (const s of segments) {
    const data = Buffer.concat(s.parts);
    const file = segmentName(id, s.index);
    await fs.writeFile(path.join(dir, file), data);
    files.push(file);
    receiptSegments.push({
      index: s.index,
      file,
      tfdt: s.tfdt,
      duration: s.duration,
      bytes: data.length,
      sha256: sha(data),
    });
  }
  return {
    receipt: {
      name,
      timescale,
      init: initName(id),
      initSha256: sha(init),
      frames,
      segments: receiptSegments,
    },
    files,
  };
}

/** A last segment shorter than this (min(0.5 s, S/4), packaging.ts tinyTail) joins the one before. */
function tinyTicks(plan: Plan, timescale: number): number {
  return Math.min(0.5, plan.segmentSeconds / 4) * timescale;
}

async function fileList(dir: string, names: string[]): Promise<PartFile[]> {
  const out: PartFile[] = [];
  for (const n of names) out.push({ path: n, ...(await sha256File(path.join(dir, n))) });
  return out;
}

/** Writes the receipt last (through a temporary name, so a torn write is never a receipt). */
async function writeReceipt(dir: string, receipt: unknown): Promise<void> {
  const tmp = path.join(dir, `${RECEIPT}.tmp`);
  await fs.writeFile(tmp, `${JSON.stringify(receipt, null, 1)}\n`);
  await fs.rename(tmp, path.join(dir, RECEIPT));
}

export async function encodeChunkPart(
  template: Template,
  media: MediaInfo,
  input: string,
  workDir: string,
  chunk: ChunkRange,
  o: PartHooks,
): Promise<PartFiles> {
  const plan = planJob(template, media);
  const dir = path.join(workDir, partFolder({ kind: 'chunk', index: chunk.index }));
  const rawDir = path.join(workDir, `${partFolder({ kind: 'chunk', index: chunk.index })}.raw`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(rawDir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  await fs.mkdir(rawDir, { recursive: true });
  const outputs = plan.renditions.map((_, i) => path.join(rawDir, `rendition-${i}.mp4`));
  // Sprite frames only when the range holds a slot (a chunk shorter than the interval may not).
  const slots = chunkSpriteSlots(plan, chunk);
  const spriteFrames = slots && slots.count !== 0 ? path.join(dir, SPRITE_FRAMES_DIR) : null;
  if (spriteFrames) await fs.mkdir(spriteFrames);
  const rate = plan.frameRate ?? 0;
  const frames = chunkEncodeFrames(plan, chunk);
  const basis = {
    durationSeconds: frames !== null ? frames / rate : (plan.durationSeconds ?? 0) - chunk.encodeFromSeconds,
    frameRate: plan.frameRate,
  };
  const onProgress = o.onProgress;
  const run = await runFfmpeg(
    buildChunkArgs({
      plan,
      chunk,
      input,
      sourceStartSeconds: media.startSeconds ?? 0,
      containerStartSeconds: media.startSeconds ?? 0,
      outputs,
      spriteFrames: spriteFrames ? path.join(spriteFrames, 'frame-%05d.jpg') : null,
      threads: ffmpegThreads(),
    }),
    onProgress ? (s) => onProgress(toJobProgress(s, basis)) : () => {},
    { cpuSeconds: template.cpuSeconds },
  );
  o.onStart?.(run);
  await run.done;
  const renditions: RenditionReceipt[] = [];
  const names: string[] = [];
  for (const [i, raw] of outputs.entries()) {
    const cut = await cutRendition(plan, chunk, i, raw, dir);
    renditions.push(cut.receipt);
    names.push(...cut.files);
  }
  await fs.rm(rawDir, { recursive: true, force: true });
  const sprites = spriteFrames ? await spriteFrameReceipts(dir, chunk.index) : [];
  names.push(...sprites.map((f) => f.file));
  const receipt: ChunkReceipt = ChunkReceipt.parse({
    version: 1,
    kind: 'chunk',
    chunk: chunk.index,
    madeBy: o.madeBy,
    renditions,
    sprites,
    files: await fileList(dir, names),
  });
  await writeReceipt(dir, receipt);
  return { dir, files: [...names, RECEIPT] };
}

/** A chunk's sprite frames (frames/frame-<slot + 1>.jpg), in slot order, with sizes and checksums. */
async function spriteFrameReceipts(dir: string, chunk: number): Promise<SpriteFrameReceipt[]> {
  const out: SpriteFrameReceipt[] = [];
  for (const name of (await fs.readdir(path.join(dir, SPRITE_FRAMES_DIR))).sort()) {
    const m = /^frame-(\d+)\.jpg$/.exec(name);
    if (!m) broken(chunk, 'sprites', `unexpected file ${name} among its sprite frames`);
    const file = `${SPRITE_FRAMES_DIR}/${name}`;
    out.push({ index: Number(m[1]), file, ...(await sha256File(path.join(dir, file))) });
  }
  return out;
}

/** The audio track's DASH segments -> receipt; a last segment under min(0.5 s, S/4) joins the one before. */
async function audioTrack(
  plan: Plan,
  dir: string,
  id: number,
): Promise<{ receipt: RenditionReceipt; files: string[] }> {
  const init = await fs.readFile(path.join(dir, initName(id)));
  const defaults = trackDefaults(init);
  const timescale = defaults[0]?.timescale ?? 48_000;
  const segs: { index: number; file: string; tfdt: number; duration: number; samples: number }[] = [];
  for (let index = 0; ; index++) {
    const file = segmentName(id, index);
    const data = await fs.readFile(path.join(dir, file)).catch(() => null);
    if (!data) break;
    const all = Buffer.concat([init, data]);
    const { fragments } = splitFragmented(all);
    const infos = fragments.map((f) => fragmentInfo(all, f.moof, defaults));
    segs.push({
      index,
      file,
      tfdt: infos[0]?.tfdt ?? 0,
      duration: infos.reduce((a, x) => a + x.duration, 0),
      samples: infos.reduce((a, x) => a + x.samples, 0),
    });
  }
  const last = segs[segs.length - 1];
  const before = segs[segs.length - 2];
  if (last && before && last.duration < tinyTicks(plan, timescale)) {
    await fs.appendFile(path.join(dir, before.file), await fs.readFile(path.join(dir, last.file)));
    await fs.rm(path.join(dir, last.file));
    before.duration += last.duration;
    before.samples += last.samples;
    segs.pop();
  }
  const segments = [];
  for (const s of segs) {
    const h = await sha256File(path.join(dir, s.file));
    segments.push({ index: s.index, file: s.file, tfdt: s.tfdt, duration: s.duration, ...h });
  }
  if (segments.length === 0) {
    throw new SluiceError(
      'INPUT_NO_OUTPUT',
      'ffmpeg made no audio segment from the input; retrying would do the same',
    );
  }
  return {
    receipt: {
      name: 'audio',
      timescale,
      init: initName(id),
      initSha256: sha(init),
      frames: segs.reduce((a, s) => a + s.samples, 0),
      segments,
    },
    files: [initName(id), ...segs.map((s) => s.file)],
  };
}

export async function encodeAudioPart(
  template: Template,
  media: MediaInfo,
  input: string,
  workDir: string,
  o: PartHooks,
): Promise<PartFiles> {
  const plan = planJob(template, media);
  const dir = path.join(workDir, partFolder({ kind: 'audio' }));
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const audioId = plan.renditions.length;
  const thumbnail = path.join(dir, 'poster.jpg');
  const basis = { durationSeconds: plan.durationSeconds, frameRate: null };
  const onProgress = o.onProgress;
  // Nothing to make (no audio, no poster): the part is its receipt alone.
  if (plan.audio || plan.thumbnail) {
    const run = await runFfmpeg(
      buildAudioPartArgs(plan, {
        input,
        audioDir: dir,
        audioId,
        thumbnail,
        threads: ffmpegThreads(),
      }),
      onProgress ? (s) => onProgress(toJobProgress(s, basis)) : () => {},
      { cpuSeconds: template.cpuSeconds },
    );
    o.onStart?.(run);
    await run.done;
  }
  await fs.rm(path.join(dir, 'audio.mpd'), { force: true });
  const names: string[] = [];
  let audio: RenditionReceipt | null = null;
  if (plan.audio) {
    const track = await audioTrack(plan, dir, audioId);
    audio = track.receipt;
    names.push(...track.files);
  }
  let poster: string | null = null;
  if (plan.thumbnail && (await fs.stat(thumbnail).catch(() => null))) {
    poster = 'poster.jpg';
    names.push(poster);
  }
  const receipt: AudioReceipt = AudioReceipt.parse({
    version: 1,
    kind: 'audio',
    madeBy: o.madeBy,
    audio,
    poster,
    files: await fileList(dir, names),
  });
  await writeReceipt(dir, receipt);
  return { dir, files: [...names, RECEIPT] };
}

/** Reads a receipt file's JSON (any part), null when absent/unparseable; lists every file it names. */
export function partFilesOf(receipt: unknown): string[] | null {
  const chunk = ChunkReceipt.safeParse(receipt);
  if (chunk.success) return chunk.data.files.map((f) => f.path);
  const audio = AudioReceipt.safeParse(receipt);
  if (audio.success) return audio.data.files.map((f) => f.path);
  return null;
}
