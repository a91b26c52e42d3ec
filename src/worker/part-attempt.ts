// A part of a chunked job, on the worker (issue 13): the IO around chunked-encode.ts and stitch-parts.ts.
// A chunk or the audio part first looks for its own receipt in the parts area: one that is there and
// valid means an earlier attempt finished the part (and died, or lost the server, before reporting it),
// so nothing is encoded again. Otherwise it encodes and uploads its files, the receipt last, so a part
// counts as done only once everything it names is stored. The stitch downloads every part by its receipt
// and joins them (stitch-parts.ts verifies sizes, checksums and continuity before anything is published).
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import type { JobPart, JobProgress } from '../jobs/job.ts';
import { partName } from '../jobs/job-parts.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { FfmpegRun } from '../media/run-ffmpeg.ts';
import { receiptOf } from '../storage/parts-area.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import type { Template } from '../templates/template.ts';
import type { AttemptStorage } from './attempt-storage.ts';
import { encodeAudioPart, encodeChunkPart, partFilesOf, stitchParts } from './chunked-encode.ts';
import type { EncodeResult } from './encode.ts';

export interface PartRun {
  template: Template;
  media: MediaInfo;
  /** The input's local copy (a chunk and the audio part read it; the stitch does not). */
  input: string;
  workDir: string;
  objects: AttemptStorage;
  /** Where the parts area is: the job's destination bucket and its parent's id. */
  bucket: string;
  parentId: string;
  /** `<job id>-<attempt>`, written into the receipt. */
  madeBy: string;
  onProgress?: (p: JobProgress) => void;
  onStart?: (run: FfmpegRun) => void;
}

/** What a finished chunk or audio part reports (kept on its job:complete event). */
export interface PartDone {
  /** True when a valid receipt was already there: nothing was encoded. */
  reused: boolean;
  files: number;
  bytes: number;
  /** The stitch: which attempt made each part it joined (`<part job id>-<attempt>`, from the receipts). */
  madeBy?: Record<string, string>;
}

/** A file named by a receipt, as a path inside the part's folder: no escaping it, whoever wrote it. */
function safeRel(rel: string): string {
  const segments = rel.split('/');
  if (rel.length > 512 || segments.some((s) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s))) {
    throw new SluiceError(
      'CHUNK_DISCONTINUITY',
      `a part's receipt names the file ${JSON.stringify(rel)}, which no part writes`,
    );
  }
  return rel;
}

async function readReceipt(r: PartRun, name: string, scratch: string): Promise<unknown> {
  const file = path.join(scratch, `${name}.receipt.json`);
  if (!(await r.objects.getPart(r.bucket, r.parentId, receiptOf(name), file))) return null;
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return null; // torn or foreign: not a receipt
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** Whether a receipt is this part's own (a chunk's names its index). */
function receiptFits(part: JobPart, receipt: unknown): boolean {
  if (partFilesOf(receipt) === null) return false;
  const r = receipt as { chunk?: unknown; kind?: unknown };
  return part.kind === 'chunk' ? r.chunk === part.index : r.kind === 'audio';
}

export async function hasValidReceipt(r: PartRun, part: JobPart): Promise<boolean> {
  const scratch = await fs.mkdtemp(path.join(r.workDir, 'receipt-'));
  try {
    return receiptFits(part, await readReceipt(r, partName(part), scratch));
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** A chunk or the audio part: done already (its receipt), or encoded and uploaded, receipt last. */
export async function runEncodePart(
  r: PartRun,
  part: Extract<JobPart, { kind: 'chunk' } | { kind: 'audio' }>,
  stillWanted: () => boolean,
): Promise<PartDone> {
  const hooks = {
    madeBy: r.madeBy,
    ...(r.onProgress ? { onProgress: r.onProgress } : {}),
    ...(r.onStart ? { onStart: r.onStart } : {}),
  };
  const made =
    part.kind === 'chunk'
      ? await encodeChunkPart(r.template, r.media, r.input, r.workDir, part.range, hooks)
      : await encodeAudioPart(r.template, r.media, r.input, r.workDir, hooks);
  const name = partName(part);
  let bytes = 0;
  for (const rel of made.files) {
    if (!stillWanted()) throw new SluiceError('INTERNAL', 'the attempt was stopped while uploading its part');
    const file = path.join(made.dir, rel);
    bytes += (await fs.stat(file)).size;
    await r.objects.putPart(r.bucket, r.parentId, `${name}/${rel}`, file);
  }
  return { reused: false, files: made.files.length, bytes };
}

/** The stitch: every part fetched by its receipt into one folder, then joined and verified. */
export async function runStitchPart(
  r: PartRun,
  chunks: ChunkRange[],
): Promise<{ encoded: EncodeResult; madeBy: Record<string, string> }> {
  const madeBy: Record<string, string> = {};
  const partsDir = path.join(r.workDir, 'parts');
  const parts: JobPart[] = [
    ...chunks.map((range, index): JobPart => ({ kind: 'chunk', index, of: chunks.length, range })),
    { kind: 'audio' },
  ];
  for (const part of parts) {
    const name = partName(part);
    const dir = path.join(partsDir, name);
    await fs.mkdir(dir, { recursive: true });
    const receipt = await readReceipt(r, name, r.workDir);
    const files = receiptFits(part, receipt) ? partFilesOf(receipt) : null;
    // No receipt (or another part's): left out, so the stitch names every such part (CHUNK_MISSING).
    if (!files) continue;
    madeBy[name] = String((receipt as { madeBy?: unknown }).madeBy);
    for (const rel of files) {
      const to = path.join(dir, safeRel(rel));
      await fs.mkdir(path.dirname(to), { recursive: true });
      // A file the receipt names but the area lacks is left out: the stitch's checks name it.
      await r.objects.getPart(r.bucket, r.parentId, `${name}/${rel}`, to);
    }
    await fs.writeFile(path.join(dir, 'receipt.json'), JSON.stringify(receipt));
  }
  const encoded = await stitchParts(r.template, r.media, r.input, chunks, partsDir, r.workDir, {
    ...(r.onProgress ? { onProgress: r.onProgress } : {}),
    ...(r.onStart ? { onStart: r.onStart } : {}),
  });
  return { encoded, madeBy };
}
