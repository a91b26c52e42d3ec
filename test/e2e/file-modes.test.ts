// File modes after a real `sluice serve` start, listening beyond loopback (so the API token exists): the
// data directory is the owner's only (0700, tightened with a warning when it was looser) and every file
// Sluice makes in it is 0600, the database and its WAL included, down to the job's outputs.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

const mode = async (p: string) => ((await fs.lstat(p)).mode & 0o777).toString(8);

/** Every entry under a folder with its mode, without following links. */
async function modesUnder(dir: string, rel = ''): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const r = path.join(rel, e.name);
    out.push([r, await mode(p)]);
    if (e.isDirectory()) out.push(...(await modesUnder(p, r)));
  }
  return out;
}

test('after serve on 0.0.0.0 and one job: data dir 0700, every file in it 0600, every folder 0700', async (t) => {
  const server = await startRealServer(t, {
    dataDir: await tempDir(t, 'sluice-modes-'),
    host: '0.0.0.0',
    prepare: (dir) => fs.chmod(dir, 0o755), // as an older Sluice (or mkdir -p) left it
  });
  const { dataDir, url } = server;
  const lines = server.logs();
  const auth = { authorization: `Bearer ${server.token}` };
  const res = await fetch(`${url}/v1/uploads/talk.mp4`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: await fs.readFile(await clip({ width: 320, height: 180, seconds: 1 })),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const id = ((await res.json()) as { jobs: JobView[] }).jobs[0]?.id;
  const job = await waitFor(
    'the job to finish',
    async () => {
      const j = (await (await fetch(`${url}/v1/jobs/${id}`, { headers: auth })).json()) as JobView;
      return ['COMPLETE', 'ERROR'].includes(j.status) && j;
    },
    90_000,
  );
  assert.equal(job.status, 'COMPLETE', `${job.error?.code} ${job.error?.message}`);

  assert.equal(await mode(dataDir), '700', 'the data directory');
  await waitFor(
    'the tightened data directory reported as a warning',
    async () => lines.some((l) => l.level === 40 && String(l.msg).includes('data directory')),
    10_000,
  );
  for (const f of ['sluice.db', 'sluice.db-wal', 'sluice.db-shm', 'api-token', 'server.json']) {
    assert.equal(await mode(path.join(dataDir, f)), '600', f);
  }
  const all = await modesUnder(dataDir);
  assert.ok(
    all.some(([p]) => p.startsWith(path.join('buckets', job.destination.bucket, job.destination.prefix))),
    'the outputs are there to check',
  );
  for (const [p, m] of all) {
    const isDir = (await fs.lstat(path.join(dataDir, p))).isDirectory();
    assert.equal(m, isDir ? '700' : '600', `${p} is ${m}`);
  }
});
