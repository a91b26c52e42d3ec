// The media half of an attempt, on local files: plan -> one ffmpeg -> packaging. The worker wraps it
// with storage and the Worker API; tests and the benchmark call it directly on generated media.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobProgress } from '../jobs/job.ts';
import {
  buildSpriteSheetArgs,
  buildTranscodeArgs,
  SPRITE_FRAMES_DIR,
  type TranscodePaths,
} from '../media/ffmpeg-args.ts';
import { ffmpegThreads } from '../media/ffmpeg-threads.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { MeasuredStream } from '../media/packaging.ts';
import { type ProgressSample, toJobProgress } from '../media/progress.ts';
import { type FfmpegRun, runFfmpeg } from '../media/run-ffmpeg.ts';
import { type Plan, planJob } from '../templates/ladder.ts';
import type { Template } from '../templates/template.ts';
import { finishPackaging } from './finish-packaging.ts';

export interface EncodeResult {
  plan: Plan;
  local: TranscodePaths;
  measured: MeasuredStream[];
  spriteVtt: string | null;
}

export function localPaths(workDir: string, input: string): TranscodePaths {
  return {
    input,
    streamDir: path.join(workDir, 'stream'),
    mp4: path.join(workDir, 'output.mp4'),
    thumbnail: path.join(workDir, 'poster.jpg'),
    spriteDir: path.join(workDir, 'sprites'),
  };
}

export async function encode(
  template: Template,
  media: MediaInfo,
  input: string,
  workDir: string,
  o: {
    /** Each report of ffmpeg's, as the job's progress (and the raw sample, for logs). */
    onProgress?: (p: JobProgress, sample: ProgressSample) => void;
    onStart?: (run: FfmpegRun) => void;
  } = {},
): Promise<EncodeResult> {
  const plan = planJob(template, media);
  const local = localPaths(workDir, input);
  const frames = path.join(local.spriteDir, SPRITE_FRAMES_DIR);
  await fs.mkdir(local.streamDir, { recursive: true });
  await fs.mkdir(plan.sprites ? frames : local.spriteDir, { recursive: true });
  const basis = { durationSeconds: plan.durationSeconds, frameRate: plan.frameRate };
  const onProgress = o.onProgress;
  const run = await runFfmpeg(
    buildTranscodeArgs(plan, local, ffmpegThreads()),
    onProgress ? (sample) => onProgress(toJobProgress(sample, basis), sample) : () => {},
    { cpuSeconds: template.cpuSeconds },
  );
  o.onStart?.(run);
  await run.done;
  if (plan.sprites) {
    // A fraction of a second even for hours of media: a few KB per small frame, decoded once. No frame
    // at all (no decodable picture) leaves no sheet, which publishing reports as the input's verdict.
    // Under the template's CPU limit too, and handed to onStart so a cancel or the time limit stops it.
    if ((await fs.readdir(frames)).length > 0) {
      const tiling = await runFfmpeg(buildSpriteSheetArgs(plan.sprites, local), () => {}, {
        cpuSeconds: template.cpuSeconds,
      });
      o.onStart?.(tiling);
      await tiling.done;
    }
    await fs.rm(frames, { recursive: true, force: true });
  }
  const { measured, spriteVtt } = await finishPackaging(plan, { ...local, workDir });
  return { plan, local, measured, spriteVtt };
}
