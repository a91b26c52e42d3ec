// After ffmpeg: measure every stream from its segments, write Sluice's HLS master over ffmpeg's, and
// write the sprites' WebVTT index. The file I/O around the pure functions of media/packaging.ts.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobOutput } from '../jobs/job.ts';
import { STREAM_FILES } from '../media/ffmpeg-args.ts';
import {
  buildHlsMaster,
  buildSpriteVtt,
  codecsFromFfmpegMaster,
  foldLastSegment,
  type MeasuredStream,
  measureStream,
  parseMediaPlaylist,
  tinyTail,
} from '../media/packaging.ts';
import type { Plan } from '../templates/ladder.ts';

export const SPRITE_VTT = 'sprites.vtt';
export const spriteSheetName = (sheet: number) => `sprites/sprite-${String(sheet).padStart(3, '0')}.jpg`;

async function size(file: string): Promise<number> {
  return (await fs.stat(file).catch(() => null))?.size ?? 0;
}

export async function measureStreams(plan: Plan, streamDir: string): Promise<MeasuredStream[]> {
  const count = plan.renditions.length + (plan.audio ? 1 : 0);
  const measured: MeasuredStream[] = [];
  for (let i = 0; i < count; i++) {
    const playlist = `media_${i}.m3u8`;
    const file = path.join(streamDir, playlist);
    let text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    let parsed = parseMediaPlaylist(text);
    const tail = tinyTail(parsed, plan.segmentSeconds);
    if (tail) {
      await fs.appendFile(
        path.join(streamDir, tail.into),
        await fs.readFile(path.join(streamDir, tail.last)),
      );
      await fs.rm(path.join(streamDir, tail.last));
      text = foldLastSegment(text);
      await fs.writeFile(file, text);
      parsed = parseMediaPlaylist(text);
    }
    const sizes = await Promise.all(parsed.segments.map((s) => size(path.join(streamDir, s.uri))));
    measured.push(measureStream(playlist, parsed, sizes, await size(path.join(streamDir, `init-${i}.m4s`))));
  }
  return measured;
}

export async function finishPackaging(
  plan: Plan,
  local: { streamDir: string; spriteDir: string; workDir: string },
): Promise<{ measured: MeasuredStream[]; spriteVtt: string | null }> {
  const measured = plan.hls || plan.dash ? await measureStreams(plan, local.streamDir) : [];
  if (plan.hls) {
    const masterFile = path.join(local.streamDir, STREAM_FILES.hlsMaster);
    const ffmpegMaster = await fs.readFile(masterFile, 'utf8').catch(() => '');
    await fs.writeFile(masterFile, buildHlsMaster(plan, measured, codecsFromFfmpegMaster(ffmpegMaster)));
  }
  let spriteVtt: string | null = null;
  if (plan.sprites) {
    spriteVtt = path.join(local.workDir, SPRITE_VTT);
    await fs.writeFile(spriteVtt, buildSpriteVtt(plan, spriteSheetName));
  }
  return { measured, spriteVtt };
}

/** Per-rendition analysis for the job's outputs: what each rendition measured after the encode. */
export function renditionOutputs(
  plan: Plan,
  measured: MeasuredStream[],
  bucket: string,
  prefix: string,
): JobOutput[] {
  return measured.map((m, i) => {
    const r = plan.renditions[i];
    return {
      type: r ? 'rendition' : 'audio-rendition',
      bucket,
      key: `${prefix}/${m.playlist}`,
      size: m.bytes,
      analysis: {
        ...(r
          ? {
              name: r.name,
              width: r.width,
              height: r.height,
              frameRate: plan.frameRate,
              targetBitrate: r.videoBitrateKbps * 1000,
            }
          : {}),
        ...(!r && plan.audio
          ? { channels: plan.audio.channels, targetBitrate: plan.audio.bitrateKbps * 1000 }
          : {}),
        averageBitrate: m.averageBitrate,
        peakBitrate: m.peakBitrate,
        durationSeconds: m.durationSeconds,
        segments: m.segments,
      },
    };
  });
}
