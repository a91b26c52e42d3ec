// `sluice retry --pipeline <name>` end to end: the real CLI process against the API listening on loopback
// retries every ERROR job of the pipeline and leaves the other pipelines' alone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { buildTestApi } from '../api/test-api.ts';

const run = promisify(execFile);
const SLUICE = path.resolve('bin/sluice.js');

async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE, ...args], {
      timeout: 30_000,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function failedJob(store: JobStore, key: string, pipeline: string): Promise<string> {
  const { job } = await store.create(
    {
      pipeline,
      input: { bucket: 'source', key, size: 10, etag: `e-${key}` },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'destination', prefix: `${key}/abr-default` },
      userMetadata: {},
      idempotencyKey: JSON.stringify([pipeline, key]),
    },
    new Date(),
  );
  await store.claimNext(`tok-${key}`, 30_000, new Date());
  await store.transition(
    job.id,
    {
      type: 'fail',
      leaseToken: `tok-${key}`,
      error: { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' },
      retryable: false,
      retryDelayMs: 0,
    },
    new Date(),
  );
  return job.id;
}

test('sluice retry --pipeline retries every ERROR job of that pipeline only', async (t) => {
  const { app, scheduler, store } = await buildTestApi(t);
  await scheduler.stop(); // retried jobs stay SUBMITTED for the test to see
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const promo = [await failedJob(store, 'a.mp4', 'promo'), await failedJob(store, 'b.mp4', 'promo')];
  const other = await failedJob(store, 'c.mp4', 'default');
  const ok = await sluice('--server', url, 'retry', '--pipeline', 'promo');
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(ok.stdout.trim().split('\n').sort(), promo.map((id) => `${id}  SUBMITTED`).sort());
  for (const id of promo) assert.equal((await store.get(id))?.status, 'SUBMITTED');
  assert.equal((await store.get(other))?.status, 'ERROR');
  const none = await sluice('--server', url, 'retry', '--pipeline', 'promo');
  assert.equal(none.code, 0);
  assert.match(none.stderr, /no ERROR jobs/);
  const both = await sluice('--server', url, 'retry', other, '--pipeline', 'promo');
  assert.equal(both.code, 1);
  assert.match(both.stderr, /^sluice: VALIDATION_FAILED: /m);
  const neither = await sluice('--server', url, 'retry');
  assert.equal(neither.code, 1);
});
