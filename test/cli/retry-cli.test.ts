// `sluice retry <id>` end to end: the real CLI process and its ApiClient against the API listening on
// loopback (real Fastify, real SQLite), not inject().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient } from '../../src/cli/api-client.ts';
import { SluiceError } from '../../src/errors.ts';
import { buildTestApi } from '../api/test-api.ts';
import { sluice } from './run-sluice.ts';

test('sluice retry <id> resubmits an ERROR job through a listening server; a second retry is refused', async (t) => {
  const { app, put, scheduler, store } = await buildTestApi(t);
  await scheduler.stop(); // the retried job stays SUBMITTED for the test to see
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await put('cli.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'cli.mp4' } })).json();
  // One attempt that failed for good: ERROR, attempt 1 used.
  const claimed = await store.claimNext('token-1', 30_000, new Date());
  assert.equal(claimed?.id, job.id);
  await store.transition(
    job.id,
    {
      type: 'fail',
      leaseToken: 'token-1',
      error: { code: 'TRANSCODE_FAILED', message: 'ffmpeg exited 1' },
      retryable: false,
      retryDelayMs: 0,
    },
    new Date(),
  );
  assert.equal((await store.get(job.id))?.status, 'ERROR');

  const ok = await sluice('--server', url, 'retry', job.id);
  assert.equal(ok.code, 0, `sluice retry exits 0 (stderr: ${ok.stderr})`);
  assert.equal(ok.stdout.trim(), `${job.id}  SUBMITTED`);
  const after = await store.get(job.id);
  assert.equal(after?.status, 'SUBMITTED');
  assert.equal(after?.attempts, 0);
  assert.equal(after?.error, null);

  const again = await sluice('--server', url, 'retry', job.id);
  assert.equal(again.code, 1, 'a refused retry exits 1');
  assert.match(again.stderr, /^sluice: INVALID_TRANSITION: .*SUBMITTED/m);
  assert.equal(again.stdout, '');

  const missing = await sluice('--server', url, 'retry', 'job_nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^sluice: JOB_NOT_FOUND: /m);
});

test('ApiClient.retry against a listening server: the view of the resubmitted job, or the refusal code', async (t) => {
  const { app, put, scheduler, store } = await buildTestApi(t);
  await scheduler.stop();
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  await put('c.mp4');
  const job = (await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'c.mp4' } })).json();
  const client = new ApiClient(url);
  const refused = await client.retry(job.id).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof SluiceError, `refused with a SluiceError, not ${refused}`);
  assert.equal(refused.code, 'INVALID_TRANSITION', 'a SUBMITTED job cannot be retried');
  await client.cancel(job.id);
  const view = await client.retry(job.id);
  assert.equal(view.id, job.id);
  assert.equal(view.status, 'SUBMITTED');
  assert.equal((await store.get(job.id))?.status, 'SUBMITTED');
  assert.equal('leaseToken' in view, false);
});
