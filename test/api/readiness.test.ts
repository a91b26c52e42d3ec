// GET /v1/ready (readiness) against a real API on loopback HTTP: 200 while the job store answers and the
// role buckets are there, 503 problem+json naming what is down otherwise; GET /v1/health stays 200 either
// way (liveness). Readiness is bounded by a timeout and a result is reused, so probes do not hammer the
// store. And who may read /metrics, /v1/ready and the API reference when the API needs a token.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Readiness } from '../../src/api/readiness.ts';
import type { JobStatus } from '../../src/jobs/job.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { buildTestApi } from './test-api.ts';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

async function problemOf(res: Response): Promise<{ code: string; status: number; detail: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  return (await res.json()) as { code: string; status: number; detail: string };
}

test('GET /v1/ready is 200 while store and buckets answer, 503 BUCKETS_UNAVAILABLE when a bucket is gone', async (t) => {
  const { app, dir, objects } = await buildTestApi(t, { readiness: { cacheMs: 0 } });
  await objects.put('source', 'x', Readable.from(['x']));
  await objects.put('destination', 'x', Readable.from(['x']));
  const url = await listen(app);
  const ok = await fetch(`${url}/v1/ready`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { status: 'ready' });

  await fs.rm(path.join(dir, 'buckets', 'destination'), { recursive: true });
  const down = await fetch(`${url}/v1/ready`);
  assert.equal(down.status, 503);
  const p = await problemOf(down);
  assert.equal(p.code, 'BUCKETS_UNAVAILABLE');
  assert.match(p.detail, /destination/);
  assert.equal((await fetch(`${url}/v1/health`)).status, 200, 'still alive');

  await fs.mkdir(path.join(dir, 'buckets', 'destination'));
  assert.equal((await fetch(`${url}/v1/ready`)).status, 200, 'ready again once the bucket is back');
});

test('GET /v1/ready is 503 JOB_STORE_UNAVAILABLE once the job store is closed; health still answers', async (t) => {
  const { app, store, objects } = await buildTestApi(t, { readiness: { cacheMs: 0 } });
  await objects.put('source', 'x', Readable.from(['x']));
  await objects.put('destination', 'x', Readable.from(['x']));
  const url = await listen(app);
  assert.equal((await fetch(`${url}/v1/ready`)).status, 200);
  await store.close();
  const down = await fetch(`${url}/v1/ready`);
  assert.equal(down.status, 503);
  assert.equal((await problemOf(down)).code, 'JOB_STORE_UNAVAILABLE');
  const health = await fetch(`${url}/v1/health`);
  assert.equal(health.status, 200, 'liveness does not depend on the store');
  const body = (await health.json()) as { status: string; jobs?: unknown };
  assert.equal(body.status, 'ok');
  assert.equal(body.jobs, undefined, 'no job counts from a store that does not answer');
});

test('readiness reuses one result for its cache period and gives up on a store that hangs', async () => {
  let calls = 0;
  let hang = false;
  const store = {
    countByStatus: async (_s: JobStatus) => {
      calls++;
      if (hang) await new Promise(() => {});
      return 0;
    },
  };
  const r = new Readiness({ store, objects: {}, buckets: [], timeoutMs: 100, cacheMs: 1000 });
  assert.equal(await r.check(0), null);
  assert.equal(await r.check(500), null);
  assert.equal(calls, 1, 'one store call within the cache period');
  assert.equal(await r.check(1000), null);
  assert.equal(calls, 2, 'a new check once the period has passed');
  hang = true;
  const started = Date.now();
  const down = await r.check(5000);
  assert.equal(down?.code, 'JOB_STORE_UNAVAILABLE');
  assert.match(down?.message ?? '', /no answer within 100 ms/);
  assert.ok(Date.now() - started < 5000, 'bounded by the timeout, not by the store');
});

test('beyond loopback: /metrics needs the API token unless public; probes and the reference never do', async (t) => {
  const token = 'test-token-0123456789';
  for (const metricsPublic of [false, true]) {
    // The store's figures are beside the point here: a stand-in that answers nothing.
    const metrics = new Metrics({
      store: { countByStatus: async () => 0, countActive: async () => [] },
      localWorkers: () => 0,
    });
    const { app } = await buildTestApi(t, { apiToken: token, metricsPublic, metrics });
    const url = await listen(app);
    const anonymous = await fetch(`${url}/metrics`);
    if (metricsPublic) assert.equal(anonymous.status, 200, 'SLUICE_METRICS_PUBLIC=true: no token');
    else {
      assert.equal(anonymous.status, 401);
      assert.equal((await problemOf(anonymous)).code, 'UNAUTHORIZED');
    }
    const authed = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(authed.status, 200);
    assert.match(await authed.text(), /^# HELP /m);
    for (const p of ['/v1/ready', '/v1/health', '/v1/openapi.json', '/v1/docs']) {
      const res = await fetch(`${url}${p}`);
      assert.notEqual(res.status, 401, `${p} is public`);
    }
    assert.equal((await fetch(`${url}/v1/jobs`)).status, 401, 'the rest of the API is not');
  }
});
