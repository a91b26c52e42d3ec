// Configured pipelines through ingest, the Worker API and the scheduler (real SQLite, real local buckets,
// Fastify inject): seed 003's fan-out carries each pipeline's priority, retry policy and destination
// onto its job, a failed attempt waits the job's own backoff (not the server's), the jobs are grouped
// under their input, and seed 002's `inputs/` + `jobs/` settings layout makes one job per settings file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig } from '../../src/config/pipeline-file.ts';
import { Ingest } from '../../src/ingest/ingest.ts';
import { objectCreatedEvent } from '../../src/ingest/object-event.ts';
import { defaultPipeline } from '../../src/ingest/pipeline.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { buildTestApi } from '../api/test-api.ts';
import { silentLog, waitFor } from '../helpers.ts';

const templates = new TemplateRegistry(null);

const SEED_003 = {
  pipelines: [
    {
      name: 'hls-720p',
      source: { bucket: 'source', prefix: 'inputs/', suffixes: ['.mp4'] },
      template: 'hls-720p',
      destination: { bucket: 'destination', prefix: '720p/' },
      retry: { maxAttempts: 5, backoff: { initialSeconds: 100, maxSeconds: 600 } },
    },
    {
      name: 'hls-1080p',
      source: { bucket: 'source', prefix: 'inputs/', suffixes: ['.mp4'] },
      template: 'hls-1080p',
      destination: { bucket: 'destination', prefix: '1080p/' },
      priority: 7,
    },
  ],
};

test('seed 003: one event makes one job per pipeline with its priority, attempts, backoff and destination; again, none', async (t) => {
  const pipelines = await checkConfig(SEED_003, 'sluice.yaml', templates);
  const { ingest, put, scheduler, app } = await buildTestApi(t, { pipelines });
  await scheduler.stop();
  const object = await put('inputs/talk.mp4');
  const first = await ingest.handle(objectCreatedEvent(object, 'test'));
  assert.equal(first.created, 2);
  const [p720, p1080] = first.jobs;
  assert.ok(p720 && p1080);
  assert.deepEqual(
    [p720.pipeline, p720.priority, p720.maxAttempts, p720.retryBackoff, p720.destination],
    [
      'hls-720p',
      0,
      5,
      { initialSeconds: 100, maxSeconds: 600, multiplier: 2 },
      { bucket: 'destination', prefix: '720p/inputs/talk.mp4/hls-720p' },
    ],
  );
  assert.deepEqual(
    [p1080.pipeline, p1080.priority, p1080.maxAttempts, p1080.retryBackoff, p1080.destination],
    ['hls-1080p', 7, 3, null, { bucket: 'destination', prefix: '1080p/inputs/talk.mp4/hls-1080p' }],
  );
  assert.equal(p720.inputId, p1080.inputId);
  const again = await ingest.handle(objectCreatedEvent(object, 'test'));
  assert.equal(again.created, 0, 'a repeated event makes no job');
  assert.deepEqual(
    again.jobs.map((j) => j.id),
    [p720.id, p1080.id],
  );
  const view = (await app.inject({ method: 'GET', url: `/v1/inputs/${p720.inputId}` })).json();
  assert.equal(view.status, 'SUBMITTED');
  assert.deepEqual(
    view.jobs.map((j: { id: string }) => j.id),
    [p720.id, p1080.id],
  );
  // Outside inputs/, or another suffix: no pipeline.
  assert.equal((await ingest.handle(objectCreatedEvent(await put('talk.mp4'), 'test'))).jobs.length, 0);
  assert.equal(
    (await ingest.handle(objectCreatedEvent(await put('inputs/talk.mov'), 'test'))).jobs.length,
    0,
  );
});

test("a failed attempt waits the job's own backoff, reported through the Worker API or by a lost worker", async (t) => {
  const pipelines = await checkConfig(SEED_003, 'sluice.yaml', templates);
  const { ingest, put, scheduler, app, store, launcher } = await buildTestApi(t, { pipelines });
  const [p720, p1080] = (await ingest.handle(objectCreatedEvent(await put('inputs/a.mp4'), 'test'))).jobs;
  assert.ok(p720 && p1080);
  // The scheduler launches the higher priority job first (concurrency 1).
  scheduler.poke();
  const launched = await waitFor('a launch', async () => launcher.launched[0]);
  assert.equal(launched.jobId, p1080.id, 'priority 7 before 0');
  // Its worker dies without reporting: no pipeline backoff, so the server's (the test's: 0 s here is the
  // Worker API's; the scheduler's own is 1-2 s).
  launcher.exit(launched);
  const lost = await waitFor('the lost attempt retried', async () => {
    const j = await store.get(p1080.id);
    return j?.status === 'SUBMITTED' && j.attempts === 1 && j;
  });
  const lostWait = Date.parse(lost.runAfter) - Date.parse(lost.updatedAt);
  assert.ok(lostWait <= 2_000, `the server's backoff: ${lostWait} ms`);

  // The 1080p job waits out its backoff; the 720p one (pipeline backoff 100 s) is launched next, and
  // fails retryably through the Worker API.
  const next = await waitFor('a second launch', async () => launcher.launched[1]);
  assert.equal(next.jobId, p720.id);
  await scheduler.stop();
  const res = await app.inject({
    method: 'POST',
    url: `/v1/worker/jobs/${p720.id}/fail`,
    headers: { authorization: `Bearer ${next.leaseToken}` },
    payload: { code: 'TRANSCODE_FAILED', message: 'boom' },
  });
  assert.equal(res.statusCode, 200, res.body);
  const failed = await store.get(p720.id);
  assert.equal(failed?.status, 'SUBMITTED');
  const wait = Date.parse(failed?.runAfter ?? '') - Date.parse(failed?.updatedAt ?? '');
  assert.ok(wait >= 50_000 && wait <= 100_000, `the pipeline's 100 s step (with jitter): ${wait} ms`);

  const view = (await app.inject({ method: 'GET', url: `/v1/inputs/${p720.inputId}` })).json();
  assert.equal(view.status, 'SUBMITTED', 'both queued again');
});

test('a lost worker of a job with a pipeline backoff waits that backoff', async (t) => {
  const pipelines = await checkConfig(SEED_003, 'sluice.yaml', templates);
  const only720 = pipelines.filter((p) => p.name === 'hls-720p');
  const { ingest, put, scheduler, store, launcher } = await buildTestApi(t, { pipelines: only720 });
  const [job] = (await ingest.handle(objectCreatedEvent(await put('inputs/b.mp4'), 'test'))).jobs;
  assert.ok(job);
  scheduler.poke();
  const launched = await waitFor('a launch', async () => launcher.launched[0]);
  launcher.exit(launched);
  const lost = await waitFor('the lost attempt retried', async () => {
    const j = await store.get(job.id);
    return j?.status === 'SUBMITTED' && j.attempts === 1 && j;
  });
  const wait = Date.parse(lost.runAfter) - Date.parse(lost.updatedAt);
  assert.ok(wait >= 50_000 && wait <= 100_000, `the pipeline's 100 s step: ${wait} ms`);
});

test("a pipeline's attempts stay under the server's ceiling (SLUICE_MAX_ATTEMPTS)", async (t) => {
  const pipelines = await checkConfig(SEED_003, 'sluice.yaml', templates);
  const { store, put, objects } = await buildTestApi(t, { pipelines });
  const ingest = new Ingest(store, objects, pipelines, templates, silentLog, {
    ceilings: {
      timeoutSeconds: 3600,
      cpuSeconds: 3600,
      maxAttempts: 2,
      limits: {} as never,
    },
  });
  const { jobs } = await ingest.handle(objectCreatedEvent(await put('inputs/c.mp4'), 'test'));
  assert.deepEqual(
    jobs.map((j) => [j.pipeline, j.maxAttempts]),
    [
      ['hls-720p', 2],
      ['hls-1080p', 2],
    ],
  );
});

test('seed 002: inputs/ prefix with jobs/ settings files: one job per settings file, settings never inputs', async (t) => {
  const pipelines = await checkConfig(
    {
      pipelines: [
        {
          name: 'watchfolder',
          source: { bucket: 'source', prefix: 'inputs/' },
          template: 'abr-default',
          destination: { bucket: 'destination' },
          settingsPrefix: 'jobs/',
        },
      ],
    },
    'sluice.yaml',
    templates,
  );
  const { ingest, put } = await buildTestApi(t, { pipelines });
  await put(
    'jobs/small.json',
    JSON.stringify({ ladder: [{ name: '90p', height: 90, videoBitrateKbps: 100 }] }),
  );
  await put(
    'jobs/mp4.json',
    JSON.stringify({ ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }] }),
  );
  const { jobs } = await ingest.handle(objectCreatedEvent(await put('inputs/clip.mp4'), 'test'));
  assert.deepEqual(jobs.map((j) => j.templateName).sort(), ['mp4', 'small']);
  assert.equal(new Set(jobs.map((j) => j.inputId)).size, 1, 'one input');
  assert.equal(ingest.pipelinesFor('source', 'jobs/x.mp4').length, 0, 'a key under jobs/ is not an input');
});

test('zero config: the default pipeline is as before (priority 0, the template attempts, the server backoff)', async (t) => {
  const { ingest, put } = await buildTestApi(t, { pipelines: [defaultPipeline('abr-default')] });
  const [job] = (await ingest.handle(objectCreatedEvent(await put('any/where.mov'), 'test'))).jobs;
  assert.deepEqual(
    [job?.pipeline, job?.priority, job?.maxAttempts, job?.retryBackoff, job?.destination.prefix],
    ['default', 0, 3, null, 'any/where.mov/abr-default'],
  );
});

test("a pipeline's chunking replaces its template's on its jobs; one that does not fit the template's segments is refused", async (t) => {
  const config = {
    pipelines: [
      {
        name: 'long-form',
        source: { bucket: 'source', prefix: 'long/', suffixes: ['.mp4'] },
        template: 'hls-720p',
        destination: { bucket: 'destination', prefix: 'long/' },
        chunking: { chunkSeconds: 24, minInputSeconds: 120 },
      },
      {
        name: 'short-form',
        source: { bucket: 'source', prefix: 'short/', suffixes: ['.mp4'] },
        template: 'hls-720p',
        destination: { bucket: 'destination', prefix: 'short/' },
      },
    ],
  };
  const pipelines = await checkConfig(config, 'sluice.yaml', templates);
  const { ingest, put, scheduler } = await buildTestApi(t, { pipelines });
  await scheduler.stop();
  const long = await ingest.handle(objectCreatedEvent(await put('long/talk.mp4'), 'test'));
  const short = await ingest.handle(objectCreatedEvent(await put('short/talk.mp4'), 'test'));
  assert.deepEqual(long.jobs[0]?.template.chunking, {
    enabled: true,
    chunkSeconds: 24,
    minInputSeconds: 120,
  });
  assert.equal(short.jobs[0]?.template.chunking.enabled, false);

  const segments = (await templates.get('hls-720p')).packaging.segmentSeconds;
  const bad = structuredClone(config);
  (bad.pipelines[0] as { chunking: object }).chunking = { chunkSeconds: segments * 5 + 1 };
  await assert.rejects(checkConfig(bad, 'sluice.yaml', templates), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /pipelines\[0\]\.chunking: .*whole number of segments/);
    return true;
  });
});
