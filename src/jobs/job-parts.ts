// Chunked jobs (accelerated transcoding, issue 13), pure: the parts a split job is made of, each part as a
// child job, and what the control plane does next given the parent and its parts. A parent that split
// holds no lease of its own: its chunk parts (each with its range's sprite frames) and its audio part (the
// whole input's audio track and the poster) run on any worker of the pool, each with its own attempts, leases and preemptions; once every
// one is COMPLETE a stitch part joins their receipts into one ladder and publishes the set, and its
// outputs become the parent's. Cancel and retry act on the parent, and so on the whole.
import type { ChunkRange } from '../templates/chunk-plan.ts';
import type { Job, JobError, JobOutput, JobPart, JobPhase, JobProgress, NewJob } from './job.ts';

/** A part's name: its folder in the parts area and the suffix of its idempotency key. */
export function partName(part: JobPart): string {
  return part.kind === 'chunk' ? chunkPartName(part.index) : part.kind;
}

/** The name of chunk `index` (0-based): `chunk-0003`. */
export function chunkPartName(index: number): string {
  return `chunk-${String(index).padStart(4, '0')}`;
}

/** How a part is shown: `chunk 3 of 4`, `audio`, `stitch`. */
export function partLabel(part: JobPart): string {
  return part.kind === 'chunk' ? `chunk ${part.index + 1} of ${part.of}` : part.kind;
}

/** The parts a split makes at once: every chunk, then the audio part. The stitch comes once they are done. */
export function partsOfSplit(chunks: readonly ChunkRange[]): JobPart[] {
  return [
    ...chunks.map((range, index): JobPart => ({ kind: 'chunk', index, of: chunks.length, range })),
    { kind: 'audio' },
  ];
}

export function stitchPart(chunks: readonly ChunkRange[]): JobPart {
  return { kind: 'stitch', chunks: [...chunks] };
}

/** A part as a new job: the parent's input, template, destination and pool settings, its own key. */
export function partDraft(parent: Job, part: JobPart): NewJob {
  return {
    pipeline: parent.pipeline,
    input: parent.input,
    templateName: parent.templateName,
    template: parent.template,
    destination: parent.destination,
    userMetadata: {},
    idempotencyKey: `${parent.idempotencyKey}#${parent.id}/${partName(part)}`,
    maxAttempts: parent.maxAttempts,
    priority: parent.priority,
    retryBackoff: parent.retryBackoff,
    parentId: parent.id,
    part,
    ...(parent.inputMedia ? { inputMedia: parent.inputMedia } : {}),
  };
}

export type PartsStep =
  /** A part ended in ERROR: the parent fails with its error, the other parts stop. */
  | { type: 'fail'; error: JobError }
  /** A part was canceled on its own while the parent runs: it is put back. */
  | { type: 'resubmit'; id: string }
  /** Every chunk and the audio are done: the stitch is made (or a failed one of an earlier try retried). */
  | { type: 'stitch'; retry: string | null }
  | { type: 'complete'; outputs: JobOutput[] }
  | { type: 'progress'; phase: JobPhase; progress: JobProgress };

/** Shares of the whole, besides the chunks' (weighted by their length): the audio part and the stitch. */
const AUDIO_SHARE = 0.05;
const STITCH_SHARE = 0.05;

/**
 * What to do next for a split parent waiting on its parts (all of them, as listParts gives them). Parts
 * of a parent that ended are the store's listOrphanParts, canceled on their own.
 */
export function nextPartsStep(parent: Job, parts: readonly Job[], now: Date): PartsStep[] {
  if (parent.status !== 'PROGRESSING' || !parent.split) return [];
  const failed = parts.find((p) => p.status === 'ERROR' && p.part?.kind !== 'stitch');
  const stitch = parts.find((p) => p.part?.kind === 'stitch') ?? null;
  // A stitch that ended before this split (the job failed and was retried) is run again, not a failure.
  const before = (j: Job) =>
    j.finishedAt !== null && Date.parse(j.finishedAt) < Date.parse(parent.split?.at ?? '');
  const stale =
    stitch !== null && (stitch.status === 'CANCELED' || (stitch.status === 'ERROR' && before(stitch)));
  const failedStitch = stitch?.status === 'ERROR' && !stale ? stitch : null;
  const broken = failed ?? failedStitch;
  if (broken?.part) {
    const error: JobError = {
      code: broken.error?.code ?? 'INTERNAL',
      message: `${partLabel(broken.part)} failed: ${broken.error?.message ?? 'no message'}`,
    };
    return [{ type: 'fail', error }];
  }
  const steps: PartsStep[] = [];
  for (const p of parts) {
    if (p.status === 'CANCELED' && p.part?.kind !== 'stitch') steps.push({ type: 'resubmit', id: p.id });
  }
  const encodes = parts.filter((p) => p.part?.kind === 'chunk' || p.part?.kind === 'audio');
  const wanted = parent.split.chunks.length + 1;
  const encoded = encodes.length >= wanted && encodes.every((p) => p.status === 'COMPLETE');
  if (encoded && stitch?.status === 'COMPLETE') return [{ type: 'complete', outputs: stitch.outputs }];
  if (encoded && (!stitch || stale)) {
    steps.push({ type: 'stitch', retry: stitch?.id ?? null });
  }
  steps.push({ type: 'progress', ...aggregateProgress(parent, parts, now) });
  return steps;
}

/**
 * The parent's phase and progress from its parts': percent weighted by each part's share of the work
 * (chunks by their length), fps and speed summed over the parts running now (they run side by side), and
 * the ETA from the rate since the split.
 */
export function aggregateProgress(
  parent: Job,
  parts: readonly Job[],
  now: Date,
): { phase: JobPhase; progress: JobProgress } {
  const chunks = parent.split?.chunks ?? [];
  const total = chunks.reduce((sum, c) => sum + (c.endSeconds - c.startSeconds), 0) || 1;
  const byName = new Map(parts.filter((p) => p.part).map((p) => [partName(p.part as JobPart), p]));
  const done = (p: Job | undefined) => (p?.status === 'COMPLETE' ? 100 : p ? p.progress.percent : 0);
  let weighted = 0;
  let weights = 0;
  chunks.forEach((c, index) => {
    const w = (c.endSeconds - c.startSeconds) / total;
    weighted += w * done(byName.get(partName({ kind: 'chunk', index, of: chunks.length, range: c })));
    weights += w;
  });
  weighted += AUDIO_SHARE * done(byName.get('audio'));
  const stitch = byName.get('stitch');
  weighted += STITCH_SHARE * done(stitch);
  weights += AUDIO_SHARE + STITCH_SHARE;
  const percent = Math.min(100, Math.round((weighted / weights) * 10) / 10);
  const running = parts.filter((p) => p.status === 'PROGRESSING');
  const sum = (f: (p: Job) => number | null) =>
    running.length > 0 ? running.reduce((s, p) => s + (f(p) ?? 0), 0) : null;
  const since = parent.split ? (now.getTime() - Date.parse(parent.split.at)) / 1000 : 0;
  const etaSeconds = percent > 0 && since > 0 ? Math.round((since * (100 - percent)) / percent) : null;
  let phase: JobPhase = 'TRANSCODING';
  if (stitch && (stitch.status === 'PROGRESSING' || stitch.status === 'SUBMITTED')) {
    phase = stitch.phase === 'UPLOADING' ? 'UPLOADING' : 'STITCHING';
  }
  const fps = sum((p) => p.progress.fps);
  const speed = sum((p) => p.progress.speed);
  return {
    phase,
    progress: {
      percent,
      fps: fps === null ? null : Math.round(fps * 10) / 10,
      speed: speed === null ? null : Math.round(speed * 100) / 100,
      etaSeconds,
    },
  };
}
