// Chunked encoding against the single pass, on real ffmpeg output: a 31 s clip at 320x180 + 160x90 with
// 2 s segments in chunks of 10 s (3 chunks, the last 11 s) and the audio part, stitched. The stitched
// stream has the single pass's frames and segments per rendition, its quality (PSNR against the source)
// and bitrate, plays start to end as HLS, DASH and MP4, and its tfdt runs on across chunk joins; the
// sprite sheets, tiled from the chunks' small frames, are the single pass's. A tampered segment, a gap in
// the sprite frames and a missing receipt stop the stitch, naming the chunk.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ChunkReceipt } from '../../src/media/chunk-receipt.ts';
import { fragmentInfo, splitFragmented, trackDefaults } from '../../src/media/fmp4.ts';
import { probe } from '../../src/media/probe.ts';
import { partFilesOf, partFolder, stitchParts } from '../../src/worker/chunked-encode.ts';
import { type EncodeResult, encode } from '../../src/worker/encode.ts';
import { clip, tempDir } from '../helpers.ts';
import { chunked, chunkTemplate, decodeErrors, frames, psnr } from './chunked-helpers.ts';

let shared: Promise<{
  single: EncodeResult;
  stitched: Awaited<ReturnType<typeof chunked>>;
  input: string;
}> | null = null;

/** Sprites every 3 s (not a divisor of the 10 s chunks) on sheets of 3 x 2, so 10 frames make 2 sheets. */
const template = chunkTemplate({ sprites: { enabled: true, intervalSeconds: 3, columns: 3, rows: 2 } });

const root = fs.mkdtemp(path.join(os.tmpdir(), 'sluice-chunked-'));
after(async () => fs.rm(await root, { recursive: true, force: true }));

/** One single pass and one chunked encode, shared by the tests of this file. */
function both() {
  shared ??= (async () => {
    const dir = await root;
    const input = await clip({
      width: 320,
      height: 180,
      seconds: 31,
      fps: 25,
      noise: true,
      bitrateKbps: 600,
    });
    const media = await probe(input);
    const single = await encode(template, media, input, path.join(dir, 'single'));
    const stitched = await chunked(template, media, input, dir);
    return { single, stitched, input };
  })();
  return shared;
}

test('stitched chunks match the single pass: frames, segments, PSNR, bitrate; HLS, DASH and MP4 decode', async (t) => {
  const { single, stitched, input } = await both();
  const s = single.local;
  const c = stitched.result.local;
  assert.equal(stitched.chunks.length, 3);
  for (const [i] of single.plan.renditions.entries()) {
    const hls = `media_${i}.m3u8`;
    const want = await frames(hls, 'v:0', s.streamDir);
    assert.equal(want, 775);
    assert.equal(await frames(hls, 'v:0', c.streamDir), want, `rendition ${i}: frames`);
  }
  assert.equal(await frames(c.mp4, 'v:0'), await frames(s.mp4, 'v:0'));
  assert.deepEqual(
    stitched.result.measured.map((m) => [m.playlist, m.segments]),
    single.measured.map((m) => [m.playlist, m.segments]),
  );
  stitched.result.measured.forEach((m, i) => {
    const want = single.measured[i]?.averageBitrate ?? 0;
    assert.ok(
      Math.abs(m.averageBitrate - want) / want < 0.02,
      `${m.playlist}: ${m.averageBitrate} vs ${want}`,
    );
  });
  const quality = { single: await psnr(s.mp4, input), chunked: await psnr(c.mp4, input) };
  t.diagnostic(
    `PSNR vs source ${JSON.stringify(quality)}; bitrates single ${single.measured.map((m) => m.averageBitrate)} chunked ${stitched.result.measured.map((m) => m.averageBitrate)}`,
  );
  assert.ok(Math.abs(quality.chunked - quality.single) < 0.2, JSON.stringify(quality));
  for (const f of ['master.m3u8', 'manifest.mpd']) {
    assert.equal(await decodeErrors(f, c.streamDir), '', `${f} decodes without errors`);
  }
  assert.equal(await decodeErrors(c.mp4), '');
  // DASH plays every rendition's frames too (the demuxer reads each representation as a stream).
  assert.equal(await frames('manifest.mpd', 'v:1', c.streamDir), 775);
  // Poster, sprites and their index are there, as the single pass leaves them.
  assert.deepEqual(await fs.readFile(c.thumbnail), await fs.readFile(s.thumbnail), 'the same poster');
  assert.deepEqual(await fs.readdir(s.spriteDir), ['sprite-001.jpg', 'sprite-002.jpg']);
  assert.deepEqual(await fs.readdir(c.spriteDir), await fs.readdir(s.spriteDir));
  for (const sheet of await fs.readdir(s.spriteDir)) {
    const same = (await fs.readFile(path.join(c.spriteDir, sheet))).equals(
      await fs.readFile(path.join(s.spriteDir, sheet)),
    );
    assert.ok(same, `sprite sheet ${sheet} is the single pass's`);
  }
  assert.equal(
    await fs.readFile(stitched.result.spriteVtt ?? '', 'utf8'),
    await fs.readFile(single.spriteVtt ?? '', 'utf8'),
  );
});

test('tfdt runs on across chunk joins, and every chunk wrote the same init segment', async () => {
  const { stitched } = await both();
  const streamDir = stitched.result.local.streamDir;
  for (const id of [0, 1, 2]) {
    const init = await fs.readFile(path.join(streamDir, `init-${id}.m4s`));
    const defaults = trackDefaults(init);
    const names = (await fs.readdir(streamDir)).filter((n) => n.startsWith(`chunk-${id}-`)).sort();
    let next: number | null = null;
    for (const name of names) {
      const buf = Buffer.concat([init, await fs.readFile(path.join(streamDir, name))]);
      for (const f of splitFragmented(buf).fragments) {
        const info = fragmentInfo(buf, f.moof, defaults);
        if (next !== null) assert.equal(info.tfdt, next, `${name}`);
        next = info.tfdt + info.duration;
      }
    }
    assert.ok(next && next > 0);
  }
  const receipts = await Promise.all(
    stitched.chunks.map(async (c) =>
      ChunkReceipt.parse(
        JSON.parse(
          await fs.readFile(
            path.join(stitched.parts, partFolder({ kind: 'chunk', index: c.index }), 'receipt.json'),
            'utf8',
          ),
        ),
      ),
    ),
  );
  for (const r of receipts) {
    assert.deepEqual(
      r.renditions.map((x) => x.initSha256),
      receipts[0]?.renditions.map((x) => x.initSha256),
    );
    // The receipt lists every file of the part, with its size and checksum.
    const files = partFilesOf(r);
    assert.ok(files);
    const dir = path.join(stitched.parts, partFolder({ kind: 'chunk', index: r.chunk }));
    const onDisk = [];
    for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) onDisk.push(path.relative(dir, path.join(e.parentPath, e.name)));
    }
    assert.deepEqual([...files, 'receipt.json'].sort(), onDisk.sort());
  }
  // The sprites' small frames come from the chunks, numbered on the whole video's grid (one per 3 s:
  // slot k shows frame ceil(75k + 37.5) - 1), each chunk those its frames hold (0-249, 250-499,
  // 500-774): slot 3 (9 s) shows frame 262, so it is chunk 1's; 10 slots in all, as the single pass.
  assert.deepEqual(
    receipts.map((r) => r.sprites.map((s) => s.index)),
    [
      [1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10],
    ],
  );
  const audio = JSON.parse(await fs.readFile(path.join(stitched.parts, 'audio', 'receipt.json'), 'utf8'));
  assert.equal('sprites' in audio, false, 'the audio part makes no sprites');
  assert.equal(partFilesOf({ version: 1, kind: 'chunk' }), null);
});

async function copyParts(from: string, to: string): Promise<string> {
  await fs.cp(from, to, { recursive: true });
  return to;
}

test('a tampered segment, a gap in the sprite frames or a missing receipt stops the stitch, naming the chunk', async (t) => {
  const { stitched, input } = await both();
  const dir = await tempDir(t);
  const media = await probe(input);
  const tampered = await copyParts(stitched.parts, path.join(dir, 'tampered'));
  const segment = path.join(tampered, 'chunk-0001', 'chunk-1-00007.m4s');
  const bytes = await fs.readFile(segment);
  bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
  await fs.writeFile(segment, bytes);
  await assert.rejects(
    stitchParts(template, media, input, stitched.chunks, tampered, path.join(dir, 'out1')),
    (e: unknown) => {
      const err = e as { code: string; message: string; details: { chunks: number[] } };
      assert.equal(err.code, 'CHUNK_DISCONTINUITY');
      assert.deepEqual(err.details.chunks, [1]);
      assert.match(err.message, /chunk 1: chunk-1-00007\.m4s does not match/);
      return true;
    },
  );
  // A sprite frame gone from a chunk's receipt (and its folder): a gap in the numbering.
  const gap = await copyParts(stitched.parts, path.join(dir, 'gap'));
  const receiptFile = path.join(gap, 'chunk-0001', 'receipt.json');
  const r = ChunkReceipt.parse(JSON.parse(await fs.readFile(receiptFile, 'utf8')));
  const dropped = r.sprites[2]?.file;
  assert.equal(r.sprites[2]?.index, 6);
  await fs.writeFile(
    receiptFile,
    JSON.stringify({
      ...r,
      sprites: r.sprites.filter((s) => s.file !== dropped),
      files: r.files.filter((f) => f.path !== dropped),
    }),
  );
  await assert.rejects(
    stitchParts(template, media, input, stitched.chunks, gap, path.join(dir, 'out3')),
    (e: unknown) => {
      const err = e as { code: string; message: string; details: { chunks: number[] } };
      assert.equal(err.code, 'CHUNK_DISCONTINUITY');
      assert.deepEqual(err.details.chunks, [1]);
      assert.match(err.message, /chunk 1: sprite frames 6 are missing/);
      return true;
    },
  );
  const missing = await copyParts(stitched.parts, path.join(dir, 'missing'));
  await fs.rm(path.join(missing, 'chunk-0002', 'receipt.json'));
  await fs.writeFile(path.join(missing, 'audio', 'receipt.json'), '{"version":1,"kin');
  await assert.rejects(
    stitchParts(template, media, input, stitched.chunks, missing, path.join(dir, 'out2')),
    {
      code: 'CHUNK_MISSING',
      details: { chunks: [2], audio: true },
    },
  );
});
