// The README's first command: `sluice demo` on a fresh data directory processes a generated sample.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { tempDir } from '../helpers.ts';

const run = promisify(execFile);

test('sluice demo exits 0 and leaves HLS, DASH, fMP4 segments, an MP4 and a JPEG', async (t) => {
  const dataDir = await tempDir(t);
  const { stdout } = await run(process.execPath, [SLUICE_BIN, 'demo', '--data-dir', dataDir], {
    env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
    timeout: 120_000,
  });
  assert.match(stdout, /COMPLETE/);
  const out = path.join(dataDir, 'buckets', 'destination', 'sluice-sample.mp4', 'abr-default');
  assert.ok(stdout.includes(out), 'the demo says where the outputs are');
  const files = await fs.readdir(out);
  for (const f of ['master.m3u8', 'manifest.mpd', 'sluice-sample.mp4']) assert.ok(files.includes(f), f);
  const versions = await fs.readdir(path.join(out, 'v'));
  assert.equal(versions.length, 1, 'one version folder');
  const version = path.join(out, 'v', versions[0] ?? '');
  assert.ok((await fs.readdir(version)).some((f) => f.endsWith('.m4s')));
  assert.deepEqual((await fs.readdir(path.join(out, 'thumbnails'))).sort(), [
    'sluice-sample.jpg',
    'sprites.vtt',
  ]);
  assert.deepEqual(await fs.readdir(path.join(version, 'sprites')), ['sprite-001.jpg']);
  const vtt = await fs.readFile(path.join(out, 'thumbnails', 'sprites.vtt'), 'utf8');
  assert.match(vtt, new RegExp(`^\\.\\./v/${versions[0]}/sprites/sprite-001\\.jpg#xywh=`, 'm'));
  await assert.rejects(
    fs.access(path.join(dataDir, 'server.json')),
    'the demo server is stopped and cleaned up',
  );
});
