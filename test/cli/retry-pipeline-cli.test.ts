// `sluice retry --pipeline <name>` end to end: the real CLI process against the API listening on loopback
// retries every ERROR job of the pipeline and leaves the other pipelines' alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failedJob } from '../api/failed-job.ts';
import { buildTestApi } from '../api/test-api.ts';
import { sluice } from './run-sluice.ts';

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
