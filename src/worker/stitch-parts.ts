// The stitch step of a chunked encode (issue 13), on local files: verify every part against its receipt
// (present, each file's size and checksum, continuity across chunk joins), then lay the parts out as the
// single pass leaves its stream folder (init-<i>.m4s, chunk-<i>-<NNNNN>.m4s, media_<i>.m3u8, master.m3u8,
// manifest.mpd; the MP4, the poster, the sprite sheets tiled from every chunk's small frames) and finish
// packaging as encode() does.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import type { JobProgress } from '../jobs/job.ts';
import { chunkSpriteSlots } from '../media/chunk-args.ts';
import {
  AudioReceipt,
  ChunkReceipt,
  checkContinuity,
  checkSpriteFrames,
  type PartFile,
  type RenditionReceipt,
} from '../media/chunk-receipt.ts';
import {
  buildSpriteSheetArgs,
  SPRITE_FRAMES_DIR,
  STREAM_FILES,
  type TranscodePaths,
} from '../media/ffmpeg-args.ts';
import type { MediaInfo } from '../media/media-info.ts';
import { type FfmpegRun, runFfmpeg } from '../media/run-ffmpeg.ts';
import {
  buildFfmpegStyleMaster,
  buildMediaPlaylist,
  buildStitchedMpd,
  codecsOfInit,
  mediaPlaylistName,
  type StitchedTrack,
} from '../media/stitch-manifests.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import { type Plan, planJob } from '../templates/ladder.ts';
import type { Template } from '../templates/template.ts';
import { partFolder, RECEIPT, sha256File } from './chunked-encode.ts';
import { type EncodeResult, localPaths } from './encode.ts';
import { finishPackaging } from './finish-packaging.ts';

async function readJson(file: string): Promise<unknown> {
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function checkFiles(dir: string, files: PartFile[]): Promise<string[]> {
  const problems: string[] = [];
  for (const f of files) {
    const got = await sha256File(path.join(dir, f.path)).catch(() => null);
    if (!got) problems.push(`${f.path} is missing`);
    else if (got.bytes !== f.bytes)
      problems.push(`${f.path} has ${got.bytes} bytes, its receipt says ${f.bytes}`);
    else if (got.sha256 !== f.sha256) problems.push(`${f.path} does not match its receipt's sha256`);
  }
  return problems;
}

function discontinuity(problems: { chunk: number | 'audio'; problem: string }[]): never {
  const chunks = [...new Set(problems.map((p) => p.chunk).filter((c) => c !== 'audio'))];
  const shown = problems
    .slice(0, 5)
    .map((p) => `${p.chunk === 'audio' ? 'audio part' : `chunk ${p.chunk}`}: ${p.problem}`)
    .join('; ');
  throw new SluiceError('CHUNK_DISCONTINUITY', `the chunks do not join up: ${shown}`, {
    chunks,
    audio: problems.some((p) => p.chunk === 'audio'),
    problems,
  });
}

/** Audio segments numbered from 0 without a gap, each tfdt the previous one's end. */
function audioProblems(a: RenditionReceipt): string[] {
  const out: string[] = [];
  let next = { index: 0, tfdt: a.segments[0]?.tfdt ?? 0 };
  for (const s of a.segments) {
    if (s.index !== next.index) out.push(`segment ${s.index} follows ${next.index - 1}`);
    if (s.tfdt !== next.tfdt) out.push(`segment ${s.index} starts at tfdt ${s.tfdt}, not ${next.tfdt}`);
    next = { index: s.index + 1, tfdt: s.tfdt + s.duration };
  }
  return out;
}

function track(id: number, r: RenditionReceipt[], init: Buffer): StitchedTrack {
  return {
    id,
    timescale: r[0]?.timescale ?? 1,
    codecs: codecsOfInit(init) ?? '',
    segments: r.flatMap((x) =>
      x.segments.map((s) => ({ index: s.index, tfdt: s.tfdt, duration: s.duration })),
    ),
  };
}

/**
 * `partsDir/<partFolder>/...` holds every part's files. Verifies every receipt, file and join, then writes
 * the standard stream layout into localPaths(workDir, input) and calls finishPackaging.
 */
export async function stitchParts(
  template: Template,
  media: MediaInfo,
  input: string,
  chunks: ChunkRange[],
  partsDir: string,
  workDir: string,
  o: { onProgress?: (p: JobProgress) => void; onStart?: (run: FfmpegRun) => void } = {},
): Promise<EncodeResult> {
  const plan = planJob(template, media);
  const receipts = new Map<number, ChunkReceipt>();
  const parsed: ChunkReceipt[] = [];
  const missing: number[] = [];
  for (const c of chunks) {
    const json = await readJson(path.join(partsDir, partFolder({ kind: 'chunk', index: c.index }), RECEIPT));
    const r = ChunkReceipt.safeParse(json);
    if (!r.success || r.data.chunk !== c.index) missing.push(c.index);
    else {
      receipts.set(c.index, r.data);
      parsed.push(r.data);
    }
  }
  const audioDir = path.join(partsDir, partFolder({ kind: 'audio' }));
  const audioReceipt = AudioReceipt.safeParse(await readJson(path.join(audioDir, RECEIPT)));
  if (missing.length > 0 || !audioReceipt.success) {
    const parts = [
      ...(missing.length > 0 ? [`chunks ${missing.join(', ')}`] : []),
      ...(audioReceipt.success ? [] : ['the audio part']),
    ];
    throw new SluiceError(
      'CHUNK_MISSING',
      `${parts.join(' and ')} have no valid receipt; encode them again`,
      {
        chunks: missing,
        audio: !audioReceipt.success,
      },
    );
  }
  const audio = audioReceipt.data;

  const problems: { chunk: number | 'audio'; problem: string }[] = [];
  for (const r of parsed) {
    const dir = path.join(partsDir, partFolder({ kind: 'chunk', index: r.chunk }));
    for (const p of await checkFiles(dir, r.files)) problems.push({ chunk: r.chunk, problem: p });
    const listed = new Set(r.files.map((f) => f.path));
    for (const rr of r.renditions) {
      for (const name of [rr.init, ...rr.segments.map((s) => s.file), ...r.sprites.map((s) => s.file)]) {
        if (!listed.has(name)) problems.push({ chunk: r.chunk, problem: `${name} is not in its file list` });
      }
      const init = r.files.find((f) => f.path === rr.init);
      if (init && init.sha256 !== rr.initSha256)
        problems.push({ chunk: r.chunk, problem: `${rr.init}'s checksum differs` });
    }
    const names = r.renditions.map((x) => x.name).join(',');
    if (names !== plan.renditions.map((x) => x.name).join(',')) {
      problems.push({
        chunk: r.chunk,
        problem: `has renditions ${names}, the plan ${plan.renditions.map((x) => x.name).join(',')}`,
      });
    }
  }
  for (const p of await checkFiles(audioDir, audio.files)) problems.push({ chunk: 'audio', problem: p });
  if (plan.audio && !audio.audio)
    problems.push({ chunk: 'audio', problem: 'has no audio track; the plan has one' });
  if (audio.audio) for (const p of audioProblems(audio.audio)) problems.push({ chunk: 'audio', problem: p });
  if (problems.length > 0) discontinuity(problems);
  const continuity = checkContinuity(chunks, receipts);
  if (!continuity.ok) {
    discontinuity(
      continuity.problems.map((p) => ({ chunk: p.chunk, problem: `${p.rendition ?? ''}: ${p.problem}` })),
    );
  }
  const spriteGaps = checkSpriteFrames(plannedSprites(plan, chunks, parsed), receipts);
  if (spriteGaps.length > 0) discontinuity(spriteGaps);

  // Lay out the stream folder as the single pass leaves it.
  const local = localPaths(workDir, input);
  await fs.rm(local.streamDir, { recursive: true, force: true });
  await fs.mkdir(local.streamDir, { recursive: true });
  const videoTracks: StitchedTrack[] = [];
  for (const [i] of plan.renditions.entries()) {
    const per = parsed.map((r) => r.renditions[i] as RenditionReceipt);
    const firstDir = path.join(partsDir, partFolder({ kind: 'chunk', index: parsed[0]?.chunk ?? 0 }));
    const init = await fs.readFile(path.join(firstDir, (per[0] as RenditionReceipt).init));
    await fs.writeFile(path.join(local.streamDir, `init-${i}.m4s`), init);
    for (const [k, r] of parsed.entries()) {
      const dir = path.join(partsDir, partFolder({ kind: 'chunk', index: r.chunk }));
      for (const s of (per[k] as RenditionReceipt).segments) {
        await fs.copyFile(path.join(dir, s.file), path.join(local.streamDir, s.file));
      }
    }
    videoTracks.push(track(i, per, init));
  }
  let audioTrack: StitchedTrack | null = null;
  if (audio.audio) {
    const id = plan.renditions.length;
    const init = await fs.readFile(path.join(audioDir, audio.audio.init));
    await fs.writeFile(path.join(local.streamDir, `init-${id}.m4s`), init);
    for (const s of audio.audio.segments) {
      await fs.copyFile(path.join(audioDir, s.file), path.join(local.streamDir, s.file));
    }
    audioTrack = track(id, [audio.audio], init);
  }
  if (plan.hls) {
    for (const t of [...videoTracks, ...(audioTrack ? [audioTrack] : [])]) {
      await fs.writeFile(path.join(local.streamDir, mediaPlaylistName(t.id)), buildMediaPlaylist(t));
    }
    await fs.writeFile(
      path.join(local.streamDir, STREAM_FILES.hlsMaster),
      buildFfmpegStyleMaster(plan, videoTracks, audioTrack),
    );
  }
  if (plan.dash) {
    await fs.writeFile(
      path.join(local.streamDir, STREAM_FILES.mpd),
      buildStitchedMpd(plan, videoTracks, audioTrack),
    );
  }
  if (plan.mp4) await remuxMp4(local, videoTracks[0] ?? null, audioTrack, workDir, o.onStart);
  if (plan.thumbnail && audio.poster) await fs.copyFile(path.join(audioDir, audio.poster), local.thumbnail);
  await fs.rm(local.spriteDir, { recursive: true, force: true });
  await fs.mkdir(local.spriteDir, { recursive: true });
  if (plan.sprites) await tileSprites(plan.sprites, parsed, partsDir, local, template.cpuSeconds, o.onStart);
  const { measured, spriteVtt } = await finishPackaging(plan, { ...local, workDir });
  o.onProgress?.({ percent: 100, fps: null, speed: null, etaSeconds: 0 });
  return { plan, local, measured, spriteVtt };
}

/**
 * Each chunk's planned sprite slots; the last chunk's end is the video's, from the frames the chunks
 * made (the held frames included), so the total is the single pass's count for the same frames.
 */
function plannedSprites(plan: Plan, chunks: ChunkRange[], parsed: ChunkReceipt[]) {
  const total = parsed.reduce((a, r) => a + (r.renditions[0]?.frames ?? 0), 0);
  return chunks.map((c) => {
    const slots = chunkSpriteSlots(plan, c, total);
    return { chunk: c.index, first: slots?.first ?? 0, count: slots?.count ?? 0 };
  });
}

/** Every chunk's small frames, in order, onto the sheets as the single pass tiles them. */
async function tileSprites(
  sprites: NonNullable<Plan['sprites']>,
  parsed: ChunkReceipt[],
  partsDir: string,
  local: ReturnType<typeof localPaths>,
  cpuSeconds: number | undefined,
  onStart?: (run: FfmpegRun) => void,
): Promise<void> {
  const frames = path.join(local.spriteDir, SPRITE_FRAMES_DIR);
  await fs.mkdir(frames, { recursive: true });
  let made = 0;
  for (const r of parsed) {
    const dir = path.join(partsDir, partFolder({ kind: 'chunk', index: r.chunk }));
    for (const s of r.sprites) {
      await fs.copyFile(path.join(dir, s.file), path.join(frames, path.basename(s.file)));
      made++;
    }
  }
  if (made > 0) {
    const run = await runFfmpeg(
      buildSpriteSheetArgs(sprites, { spriteDir: local.spriteDir } as TranscodePaths),
      () => {},
      { cpuSeconds },
    );
    onStart?.(run);
    await run.done;
  }
  await fs.rm(frames, { recursive: true, force: true });
}

/** The MP4: the top rendition's and the audio's segments joined (each a valid fMP4), remuxed with faststart. */
async function remuxMp4(
  local: ReturnType<typeof localPaths>,
  video: StitchedTrack | null,
  audio: StitchedTrack | null,
  workDir: string,
  onStart?: (run: FfmpegRun) => void,
): Promise<void> {
  if (!video) return;
  const join = async (t: StitchedTrack, out: string) => {
    const names = [
      `init-${t.id}.m4s`,
      ...t.segments.map((s) => `chunk-${t.id}-${String(s.index + 1).padStart(5, '0')}.m4s`),
    ];
    await fs.writeFile(out, '');
    for (const n of names) await fs.appendFile(out, await fs.readFile(path.join(local.streamDir, n)));
  };
  const v = path.join(workDir, 'stitch-video.mp4');
  const a = path.join(workDir, 'stitch-audio.mp4');
  await join(video, v);
  if (audio) await join(audio, a);
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'level+warning', '-i', v];
  if (audio) args.push('-i', a);
  args.push(
    '-map',
    '0:v:0',
    ...(audio ? ['-map', '1:a:0'] : []),
    '-c',
    'copy',
    '-movflags',
    '+faststart',
    local.mp4,
  );
  const run = await runFfmpeg(args, () => {});
  onStart?.(run);
  await run.done;
  await fs.rm(v, { force: true });
  await fs.rm(a, { force: true });
}
