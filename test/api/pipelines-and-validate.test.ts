// GET /v1/pipelines (every default filled in, as the server applies it), POST /v1/templates/validate
// (defaults filled in, or INVALID_TEMPLATE with each field), and the `errors` list problem+json carries for
// INVALID_TEMPLATE, VALIDATION_FAILED and CONFIG_INVALID.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelineView } from '../../src/api/pipeline-routes.ts';
import { toProblem } from '../../src/api/problem.ts';
import { SluiceError } from '../../src/errors.ts';
import { defaultPipeline, type Pipeline } from '../../src/ingest/pipeline.ts';
import { DEFAULT_BACKOFF } from '../../src/jobs/retry-policy.ts';
import { DEFAULT_LIMITS } from '../../src/media/input-policy.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { buildTestApi } from './test-api.ts';

const PROMO: Pipeline = {
  name: 'promo',
  bucket: 'source',
  prefix: 'promo/',
  suffixes: ['.mp4'],
  template: 'abr-default',
  destinationBucket: 'published',
  destinationPrefix: 'site/',
  priority: 5,
  retry: { maxAttempts: 7, backoff: { initialSeconds: 1, maxSeconds: 9, multiplier: 3 } },
};

test('GET /v1/pipelines: each pipeline with every default filled in', async (t) => {
  const { app } = await buildTestApi(t, { pipelines: [defaultPipeline('abr-default'), PROMO] });
  const res = await app.inject('/v1/pipelines');
  assert.equal(res.statusCode, 200, res.body);
  const [def, promo] = res.json().pipelines;
  const spec = defaultPipeline('abr-default');
  assert.deepEqual(def, {
    name: 'default',
    bucket: 'source',
    prefix: '',
    suffixes: spec.suffixes,
    template: 'abr-default',
    destinationBucket: 'destination',
    destinationPrefix: '',
    settingsPrefix: 'jobs/',
    priority: 0,
    retry: { maxAttempts: getBuiltinTemplate('abr-default').maxAttempts, backoff: DEFAULT_BACKOFF },
  });
  assert.deepEqual(promo, { ...PROMO, settingsPrefix: null, retry: PROMO.retry });
});

test('the attempts shown are under the server ceiling; a template that does not resolve shows null', async () => {
  const templates = new TemplateRegistry(null);
  const ceilings = { timeoutSeconds: 3600, cpuSeconds: 3600, maxAttempts: 2, limits: DEFAULT_LIMITS };
  const deps = { pipelines: [], templates, ceilings };
  assert.equal((await pipelineView(PROMO, deps)).retry.maxAttempts, 2);
  assert.equal((await pipelineView(defaultPipeline('abr-default'), deps)).retry.maxAttempts, 2);
  const gone = await pipelineView({ ...PROMO, template: 'removed', retry: {} }, deps);
  assert.equal(gone.retry.maxAttempts, null);
});

test('POST /v1/templates/validate: a valid document comes back with every default filled in', async (t) => {
  const { app } = await buildTestApi(t);
  const builtin = getBuiltinTemplate('abr-default');
  const res = await app.inject({
    method: 'POST',
    url: '/v1/templates/validate',
    payload: builtin,
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.valid, true);
  assert.deepEqual(body.template, builtin);
  const unnamed = await app.inject({
    method: 'POST',
    url: '/v1/templates/validate',
    payload: { ladder: [{ name: 'p360', height: 360, videoBitrateKbps: 800 }] },
  });
  const filled = unnamed.json().template;
  assert.equal(filled.name, 'draft');
  assert.deepEqual(filled.packaging, { segmentSeconds: 4, hls: true, dash: true });
  assert.equal(filled.maxAttempts, 3);
  assert.equal(filled.limits.maxStreams, 32);
});

test('an invalid template is INVALID_TEMPLATE with each field in errors, in the a.b[0].c form', async (t) => {
  const { app } = await buildTestApi(t);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/templates/validate',
    payload: {
      ladder: [
        { name: 'ok', height: 720, videoBitrateKbps: 2000 },
        { name: 'Bad Name', height: 10, videoBitrateKbps: 2000 },
      ],
      packaging: { segmentSeconds: 99 },
      bogus: true,
    },
  });
  assert.equal(res.statusCode, 400);
  const body = res.json();
  assert.equal(body.code, 'INVALID_TEMPLATE');
  const fields = body.errors.map((e: { field: string }) => e.field).sort();
  assert.deepEqual(fields, ['', 'ladder[1].height', 'ladder[1].name', 'packaging.segmentSeconds']);
  for (const e of body.errors) assert.ok(e.message.length > 0, JSON.stringify(e));
  assert.match(body.errors.find((e: { field: string }) => e.field === '').message, /bogus/);
  for (const payload of ['[1, 2]', '"text"', 'null']) {
    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/templates/validate',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    assert.equal(wrong.statusCode, 400, payload);
    assert.equal(wrong.json().code, 'INVALID_TEMPLATE');
    assert.deepEqual(
      wrong.json().errors.map((e: { field: string }) => e.field),
      [''],
    );
  }
});

test('CONFIG_INVALID lines become field errors; an error with no fields names the whole ("")', () => {
  const config = new SluiceError('CONFIG_INVALID', 'sluice.yaml is not valid', {
    errors: ['pipelines[1].source.bucket: required', '(top level): unknown key "x"', 'no colon here'],
  });
  assert.deepEqual(toProblem(config).errors, [
    { field: 'pipelines[1].source.bucket', message: 'required' },
    { field: '', message: 'unknown key "x"' },
    { field: '', message: 'no colon here' },
  ]);
  assert.deepEqual(toProblem(new SluiceError('VALIDATION_FAILED', 'body is not JSON')).errors, [
    { field: '', message: 'body is not JSON' },
  ]);
  assert.equal(toProblem(new SluiceError('JOB_NOT_FOUND', 'no job')).errors, undefined);
});
