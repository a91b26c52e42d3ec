// fmp4.ts on real ffmpeg output: a fragmented MP4 splits into its init and fragments, each fragment's
// sequence, tfdt, samples, durations and keyframe flag read back as ffmpeg wrote them, and a rewritten
// tfdt past 32 bits (version 1, boxes grown) and sequence still decode, at the new times.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  fragmentInfo,
  readBoxes,
  rewriteFragment,
  splitFragmented,
  trackDefaults,
} from '../../src/media/fmp4.ts';
import { tempDir } from '../helpers.ts';

const run = promisify(execFile);

/** 3 s of 25 fps video, a keyframe every 25 frames, one fragment per keyframe (moof-relative offsets). */
async function fragmented(dir: string): Promise<string> {
  const file = path.join(dir, 'frag.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=3'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2'],
    ...['-movflags', '+frag_keyframe+empty_moov+delay_moov+default_base_moof', file],
  ]);
  return file;
}

async function ptsOf(file: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts', '-of', 'csv=p=0', file],
  ]);
  return stdout.trim().split('\n').map(Number);
}

test('splits a fragmented MP4 and reads each fragment as ffmpeg wrote it', async (t) => {
  const dir = await tempDir(t);
  const buf = await fs.readFile(await fragmented(dir));
  const { init, fragments } = splitFragmented(buf);
  assert.deepEqual(
    readBoxes(init).map((b) => b.type),
    ['ftyp', 'moov'],
  );
  const defaults = trackDefaults(init);
  assert.equal(defaults.length, 1);
  assert.equal(defaults[0]?.timescale, 12800);
  const infos = fragments.map((f) => fragmentInfo(buf, f.moof, defaults));
  assert.equal(infos.length, 3);
  let tfdt = 0;
  infos.forEach((info, i) => {
    assert.equal(info.sequence, i + 1);
    assert.equal(info.samples, 25);
    assert.equal(info.duration, 25 * 512);
    assert.equal(info.tfdt, tfdt, `fragment ${i} starts where the one before ended`);
    assert.equal(info.keyframe, true);
    tfdt += info.duration;
  });
  // The fragments cover the file after the init exactly, up to the random access index (mfra).
  assert.equal(fragments[0]?.start, init.length);
  const last = readBoxes(buf).at(-1);
  assert.equal(fragments.at(-1)?.end, last?.type === 'mfra' ? last.start : buf.length);
});

test('rewrites tfdt past 32 bits and the sequence; the result decodes at the new times', async (t) => {
  const dir = await tempDir(t);
  const file = await fragmented(dir);
  const buf = await fs.readFile(file);
  const { init, fragments } = splitFragmented(buf);
  const defaults = trackDefaults(init);
  const shift = 2 ** 33 + 512 * 7;
  const moved = fragments.map((f, i) =>
    rewriteFragment(buf, f, 100 + i, fragmentInfo(buf, f.moof, defaults).tfdt + shift),
  );
  // A version-0 tfdt grows by 4 bytes to hold 64 bits.
  moved.forEach((m, i) => {
    const f = fragments[i];
    assert.ok(f);
    const version = buf[buf.indexOf('tfdt', f.moof, 'latin1') + 4];
    assert.equal(m.length, f.end - f.start + (version === 1 ? 0 : 4));
  });
  const out = Buffer.concat([init, ...moved]);
  const again = splitFragmented(out);
  const infos = again.fragments.map((f) => fragmentInfo(out, f.moof, defaults));
  assert.deepEqual(
    infos.map((i) => [i.sequence, i.tfdt, i.samples]),
    [
      [100, shift, 25],
      [101, shift + 12800, 25],
      [102, shift + 25600, 25],
    ],
  );
  const movedFile = path.join(dir, 'moved.mp4');
  await fs.writeFile(movedFile, out);
  const before = await ptsOf(file);
  const after = await ptsOf(movedFile);
  assert.equal(after.length, 75);
  assert.deepEqual(
    after.map((d, i) => d - (before[i] ?? 0)),
    after.map(() => shift),
  );
  // The samples are still where the moved data offsets say: every frame decodes.
  const decoded = await run('ffmpeg', ['-v', 'error', '-i', movedFile, '-f', 'null', '-']);
  assert.equal(decoded.stderr.trim(), '');
  // Rewriting again keeps version 1 and its size.
  const f0 = again.fragments[0];
  assert.ok(f0);
  assert.equal(rewriteFragment(out, f0, 1, 5).length, f0.end - f0.start);
});

test('refuses what is not a fragmented MP4', async (t) => {
  const dir = await tempDir(t);
  const plain = path.join(dir, 'plain.mp4');
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=1', plain]);
  assert.throws(() => splitFragmented(Buffer.from('not a box at all')), { code: 'CHUNK_DISCONTINUITY' });
  // A progressive MP4 has no fragments.
  assert.throws(() => splitFragmented(Buffer.alloc(0)), { code: 'CHUNK_DISCONTINUITY' });
  const buf = await fs.readFile(plain);
  assert.throws(() => splitFragmented(buf), { code: 'CHUNK_DISCONTINUITY' });
});
