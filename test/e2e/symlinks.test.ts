// Symbolic links against a real `sluice serve` process: links in the watch folder (to a file outside, to
// a folder outside, `ln -s . loop`), an upload through a linked folder and a linked destination folder.
// None of them leads outside the data directory, none makes a job, and the server log names each one.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { outputPrefixFor } from '../../src/storage/object-key.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

const cleanup: (() => Promise<unknown>)[] = [];
const t = { after: (fn: () => Promise<void>) => void cleanup.push(fn) };
let logLines: Record<string, unknown>[] = [];
let url = '';
let dataDir = '';
let outside = '';
let source = '';
let input = '';

/** Every file under a folder, relative, without following links. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) for (const f of await filesUnder(p)) out.push(path.join(e.name, f));
    else out.push(e.name);
  }
  return out.sort();
}

const logged = (msg: string, key: string) =>
  logLines.some((l) => String(l.msg).includes(msg) && (l.key === key || l.link === key));

async function jobs(): Promise<JobView[]> {
  return ((await (await fetch(`${url}/v1/jobs`)).json()) as { jobs: JobView[] }).jobs;
}

async function finishedJob(key: string): Promise<JobView> {
  return waitFor(
    `the job of ${key} to finish`,
    async () => {
      const j = (await jobs()).find((x) => x.input.key === key);
      return j && ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    90_000,
  );
}

before(async () => {
  dataDir = await tempDir(t, 'sluice-symlinks-');
  outside = await tempDir(t, 'sluice-outside-');
  input = await clip({ width: 320, height: 180, seconds: 1 });
  await fs.copyFile(input, path.join(outside, 'outside.mp4'));
  await fs.mkdir(path.join(outside, 'folder'));
  await fs.copyFile(input, path.join(outside, 'folder', 'inner.mp4'));
  await fs.mkdir(path.join(outside, 'dest'));

  const server = await startRealServer(t, { dataDir });
  url = server.url;
  logLines = server.logs();
  source = path.join(dataDir, 'buckets', 'source');
});

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

test('links in the watch folder (file outside, folder outside, `ln -s . loop`) make no job and are logged', async () => {
  await fs.symlink(path.join(outside, 'outside.mp4'), path.join(source, 'file-link.mp4'));
  await fs.symlink(path.join(outside, 'folder'), path.join(source, 'dir-link'));
  await fs.symlink('.', path.join(source, 'loop'));
  // A real file dropped after the links: once its job is done, the watcher has seen the links too.
  await fs.copyFile(input, path.join(source, 'real.mp4'));
  const real = await finishedJob('real.mp4');
  assert.equal(real.status, 'COMPLETE', `${real.error?.code} ${real.error?.message}`);
  assert.deepEqual(
    (await jobs()).map((j) => j.input.key),
    ['real.mp4'],
    'the only job is the real file',
  );
  await waitFor('the skipped links logged', async () =>
    ['file-link.mp4', 'dir-link', 'loop'].every((k) => logged('symbolic link skipped', k)),
  );
  assert.deepEqual(await filesUnder(outside), ['folder/inner.mp4', 'outside.mp4'], 'nothing written outside');
});

test('PUT /v1/uploads/<linked folder>/x.mp4 is refused with SYMLINK_REFUSED and writes nothing outside', async () => {
  const res = await fetch(`${url}/v1/uploads/dir-link/x.mp4`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: await fs.readFile(input),
  });
  const body = (await res.json()) as { code: string; detail?: string };
  assert.equal(res.status, 409);
  assert.equal(body.code, 'SYMLINK_REFUSED');
  assert.deepEqual(
    await filesUnder(path.join(outside, 'folder')),
    ['inner.mp4'],
    'nothing written through it',
  );
  // The log arrives on the server's stderr, not necessarily before the response.
  await waitFor(
    'the refusal in the server log',
    async () => logged('symbolic link refused', 'dir-link'),
    10_000,
  );
  assert.equal((await jobs()).filter((j) => j.input.key.startsWith('dir-link')).length, 0, 'no job');
});

test('a symlinked destination folder receives no output: the job fails with SYMLINK_REFUSED', async () => {
  const key = 'victim.mp4';
  // The job's output set starts with a folder named like the input key: that folder is the link.
  const linkName = outputPrefixFor(key, 'any').split('/')[0] as string;
  await fs.symlink(path.join(outside, 'dest'), path.join(dataDir, 'buckets', 'destination', linkName));
  const res = await fetch(`${url}/v1/uploads/${key}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: await fs.readFile(input),
  });
  assert.equal(res.status, 201);
  const job = await finishedJob(key);
  assert.ok(
    job.destination.prefix === linkName || job.destination.prefix.startsWith(`${linkName}/`),
    `the link covers the job's destination prefix ${job.destination.prefix}`,
  );
  assert.equal(job.status, 'ERROR');
  assert.equal(job.error?.code, 'SYMLINK_REFUSED', job.error?.message);
  assert.equal(job.attempts, 1, 'not retried: the same link would be refused again');
  assert.deepEqual(await filesUnder(path.join(outside, 'dest')), [], 'no output landed through the link');
  await waitFor(
    'the worker log of the refusal',
    async () => logged('symbolic link refused', linkName),
    10_000,
  );
});
