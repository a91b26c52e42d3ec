// ffmpeg's threads per attempt (SLUICE_FFMPEG_THREADS, `sluice worker --threads`): checked, and placed
// where ffmpeg applies them (before each input for its decoder, before each output for its encoders,
// the filter graph's as global options), and a real encode with one thread makes the usual outputs.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { buildChunkArgs } from '../../src/media/chunk-args.ts';
import { buildTranscodeArgs } from '../../src/media/ffmpeg-args.ts';
import { ffmpegThreads } from '../../src/media/ffmpeg-threads.ts';
import { probe } from '../../src/media/probe.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { planChunks } from '../../src/templates/chunk-plan.ts';
import { planJob } from '../../src/templates/ladder.ts';
import { encode, localPaths } from '../../src/worker/encode.ts';
import { clip, tempDir } from '../helpers.ts';

test('SLUICE_FFMPEG_THREADS: a whole number from 1, else CONFIG_INVALID; unset is ffmpeg’s own choice', () => {
  assert.equal(ffmpegThreads({}), null);
  assert.equal(ffmpegThreads({ SLUICE_FFMPEG_THREADS: '1' }), 1);
  for (const bad of ['0', '-2', '1.5', 'two', '999']) {
    assert.throws(() => ffmpegThreads({ SLUICE_FFMPEG_THREADS: bad }), { code: 'CONFIG_INVALID' });
  }
});

test('threads go before every input and output, and a one-thread single pass encodes as usual', async (t) => {
  const input = await clip({ width: 320, height: 180, seconds: 2 });
  const media = await probe(input);
  const plan = planJob(getBuiltinTemplate('abr-default'), media);
  const dir = await tempDir(t, 'sluice-threads-');
  const args = buildTranscodeArgs(plan, localPaths(dir, input), 1);
  const before = (i: number) => args.slice(Math.max(0, i - 2), i).join(' ');
  // Before each input (the poster's seeks after it).
  for (const [i, a] of args.entries()) {
    if (a === '-i') assert.match(args.slice(i - 6, i).join(' '), /-threads 1/, `before input ${i}`);
  }
  assert.equal(before(args.indexOf('tee') - 1), '-threads 1');
  assert.ok(args.slice(0, 12).includes('-filter_complex_threads'));
  assert.ok(!buildTranscodeArgs(plan, localPaths(dir, input)).includes('-threads'));

  const chunks = planChunks({
    durationSeconds: 40,
    sourceStartSeconds: 0,
    frameRate: 30,
    segmentSeconds: 4,
    chunkSeconds: 20,
    minInputSeconds: 0,
  });
  const chunkArgs = buildChunkArgs({
    plan,
    chunk: chunks?.[1] as never,
    input,
    sourceStartSeconds: 0,
    containerStartSeconds: 0,
    outputs: plan.renditions.map((_, i) => `/o/${i}.mp4`),
    threads: 1,
  });
  for (const [i, a] of chunkArgs.entries()) {
    if (a.startsWith('/o/')) assert.deepEqual(chunkArgs.slice(i - 4, i - 2), ['-threads', '1'], a);
  }

  process.env.SLUICE_FFMPEG_THREADS = '1';
  t.after(() => {
    delete process.env.SLUICE_FFMPEG_THREADS;
  });
  const { local } = await encode(getBuiltinTemplate('abr-default'), media, input, dir);
  assert.ok((await fs.stat(local.mp4)).size > 0);
  assert.ok((await fs.readdir(local.streamDir)).includes('master.m3u8'));
  assert.ok((await fs.stat(path.join(dir, 'poster.jpg'))).size > 0);
});
