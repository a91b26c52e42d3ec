// One slowly written file makes one finished job (issue 7, finding 4), against a real `sluice serve`: a
// copy that pauses longer than the settle window makes jobs for partial versions, and each of them ends
// CANCELED with reason SUPERSEDED (never ERROR); exactly one job completes, on the bytes it recorded.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

test('real sluice serve: a file copied in chunks with pauses longer than the settle window ends as one COMPLETE job; the partial ones are SUPERSEDED', async (t) => {
  // Settle 300 ms, pauses of 700 ms: every pause looks like a finished file to the watcher.
  const server = await startRealServer(t, { env: { SLUICE_SETTLE_MS: '300' } });
  // An MPEG-TS stream: a truncated one still decodes, so partial versions really get encoded.
  const source = await clip({ width: 320, height: 180, seconds: 4, noise: true });
  const ts = path.join(path.dirname(source), 'slow-source.ts');
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile('ffmpeg', ['-v', 'error', '-y', '-i', source, '-c', 'copy', '-f', 'mpegts', ts], (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  const bytes = await fs.readFile(ts);
  const target = path.join(server.source, 'slow.ts');
  const handle = await fs.open(target, 'w');
  const chunk = Math.ceil(bytes.length / 4);
  const seenBefore = new Set<string>();
  for (let off = 0; off < bytes.length; off += chunk) {
    await handle.write(bytes.subarray(off, off + chunk));
    await handle.sync();
    if (off + chunk < bytes.length) {
      // Wait until the watcher has made a job of this partial version (or a little while at most).
      await waitFor(
        'a job for the partial file',
        async () => {
          const { jobs } = await server.api.listJobs();
          const fresh = jobs.filter((j) => !seenBefore.has(j.id));
          for (const j of fresh) seenBefore.add(j.id);
          return fresh.length > 0;
        },
        10_000,
      ).catch(() => {});
    }
  }
  await handle.close();
  const all = await waitFor(
    'every job finished',
    async () => {
      const { jobs } = await server.api.listJobs();
      return (
        jobs.length > 0 && jobs.every((j) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status)) && jobs
      );
    },
    120_000,
  );
  // The watcher may still emit the final version after the last partial job ended: wait for a COMPLETE.
  const final = await waitFor(
    'the job of the whole file',
    async () => {
      const { jobs } = await server.api.listJobs();
      const complete = jobs.filter((j) => j.status === 'COMPLETE');
      const open = jobs.some((j) => !['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status));
      return !open && complete.length > 0 && jobs;
    },
    120_000,
  );
  const summary = final.map((j: JobView) => `${j.status} ${j.error?.code ?? ''} size=${j.input.size}`);
  assert.ok(all.length >= 1);
  assert.ok(final.length >= 2, `partial versions made jobs too: ${summary.join('; ')}`);
  const complete = final.filter((j) => j.status === 'COMPLETE');
  assert.equal(complete.length, 1, `exactly one COMPLETE job: ${summary.join('; ')}`);
  assert.equal(complete[0]?.input.size, bytes.length, 'it recorded the whole file');
  assert.equal(complete[0]?.inputMedia?.sizeBytes, bytes.length, 'and processed the size it recorded');
  for (const j of final.filter((x) => x.status !== 'COMPLETE')) {
    assert.equal(j.status, 'CANCELED', `a partial version is not an ERROR: ${summary.join('; ')}`);
    assert.equal(j.error?.code, 'SUPERSEDED');
  }
});
