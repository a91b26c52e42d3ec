// Shared by the chunked-encode tests: a small chunking template, the whole chunked path (every chunk,
// the audio part, the stitch) as the job system will run it across workers, and ffprobe/ffmpeg checks.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { MediaInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import type { ChunkRange } from '../../src/templates/chunk-plan.ts';
import { parseTemplate, type Template } from '../../src/templates/template.ts';
import {
  chunksOf,
  encodeAudioPart,
  encodeChunkPart,
  partFolder,
  stitchParts,
} from '../../src/worker/chunked-encode.ts';
import type { EncodeResult } from '../../src/worker/encode.ts';

const run = promisify(execFile);

export function chunkTemplate(over: Record<string, unknown> = {}): Template {
  const s = getBuiltinTemplate('abr-default');
  return parseTemplate({
    ...s,
    name: 'chunked',
    ladder: [
      { name: '180p', height: 180, videoBitrateKbps: 300 },
      { name: '90p', height: 90, videoBitrateKbps: 120 },
    ],
    video: { ...s.video, preset: 'veryfast' },
    packaging: { ...s.packaging, segmentSeconds: 2 },
    sprites: { enabled: true },
    chunking: { enabled: true, chunkSeconds: 10, minInputSeconds: 20 },
    ...over,
  });
}

/** Every chunk, the audio part, then the stitch: what the job system will do across workers. */
export async function chunked(
  template: Template,
  media: MediaInfo,
  input: string,
  dir: string,
): Promise<{ result: EncodeResult; chunks: ChunkRange[]; parts: string }> {
  const chunks = chunksOf(template, media);
  assert.ok(chunks, 'the input is chunked');
  const parts = path.join(dir, 'parts');
  for (const c of chunks) {
    const p = await encodeChunkPart(template, media, input, parts, c, { madeBy: 'job-1' });
    assert.equal(p.files.at(-1), 'receipt.json');
    assert.equal(p.dir, path.join(parts, partFolder({ kind: 'chunk', index: c.index })));
  }
  const a = await encodeAudioPart(template, media, input, parts, { madeBy: 'job-1' });
  assert.equal(a.files.at(-1), 'receipt.json');
  const result = await stitchParts(template, media, input, chunks, parts, path.join(dir, 'stitched'));
  return { result, chunks, parts };
}

export async function frames(file: string, stream: string, cwd?: string): Promise<number> {
  const { stdout } = await run(
    'ffprobe',
    [
      ...['-v', 'error', '-count_frames', '-select_streams', stream],
      ...['-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file],
    ],
    { cwd },
  );
  return Number(stdout.trim().split('\n')[0]);
}

/** Decodes every stream of `file` to the end; ffmpeg's complaints, if any. */
export async function decodeErrors(file: string, cwd?: string): Promise<string> {
  const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0', '-f', 'null', '-'], {
    cwd,
  });
  return stderr.trim();
}

/** Mean PSNR (dB) of `file`'s first video against the source's, frame by frame. */
export async function psnr(file: string, source: string): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-i', file, '-i', source],
    ...['-lavfi', '[0:v:0][1:v:0]scale2ref=flags=bicubic[a][b];[a][b]psnr', '-f', 'null', '-'],
  ]);
  const m = /PSNR y:[\d.]+ u:[\d.]+ v:[\d.]+ average:([\d.]+)/.exec(stderr);
  assert.ok(m, stderr.slice(-500));
  return Number(m[1]);
}
