// Typos are refused, not dropped (issue 7, finding 10): strict schemas name the unknown field, what can be
// checked at request time is checked then, and a request that differs from the job it would deduplicate
// to answers 409 with that job instead of silently returning it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTemplate } from '../../src/templates/template.ts';
import { templateFromJson } from '../../src/templates/template-registry.ts';
import { buildTestApi } from './test-api.ts';

type Res = { statusCode: number; json(): Record<string, unknown> };
function problem(res: Res, status: number, code: string, mentions?: string) {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  const body = res.json() as { code: string; detail: string };
  assert.equal(body.code, code);
  if (mentions) assert.match(body.detail, new RegExp(mentions), `the message names ${mentions}`);
  return body;
}

test('POST /v1/jobs with an unknown field ("templte") is 400 naming it, not the default-template job', async (t) => {
  const { app, put } = await buildTestApi(t);
  await put('talk.mp4');
  const first = await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'talk.mp4' } });
  assert.equal(first.statusCode, 201);
  problem(
    await app.inject({ method: 'POST', url: '/v1/jobs', payload: { key: 'talk.mp4', templte: 'hls-720p' } }),
    400,
    'VALIDATION_FAILED',
    'templte',
  );
  problem(
    await app.inject({
      method: 'POST',
      url: '/v1/plan',
      payload: { key: 'talk.mp4', setings: {} },
    }),
    400,
    'VALIDATION_FAILED',
    'setings',
  );
  problem(await app.inject('/v1/jobs?stauts=ERROR'), 400, 'VALIDATION_FAILED', 'stauts');
});

test('templates and settings files are strict at every level: {"mp4": {"enabeld": true}} is not valid', () => {
  const base = { name: 'x', ladder: [{ name: '360p', height: 360, videoBitrateKbps: 800 }] };
  assert.throws(
    () => parseTemplate({ ...base, mp4: { enabeld: true } }),
    (err: Error & { code?: string }) =>
      err.code === 'INVALID_TEMPLATE' && /mp4/.test(err.message) && /enabeld/.test(err.message),
  );
  for (const extra of [
    { ladderr: [] },
    { video: { presett: 'fast' } },
    { ladder: [{ name: '360p', height: 360, videoBitrateKbps: 800, crf: 20 }] },
    { limits: { maxByte: 1 } },
    { packaging: { hls: true, dashh: true } },
    { sprites: { enabled: true, colums: 4 } },
  ]) {
    assert.throws(
      () => parseTemplate({ ...base, ...extra }),
      /INVALID_TEMPLATE|not valid/,
      JSON.stringify(extra),
    );
  }
  assert.throws(
    () =>
      templateFromJson(
        JSON.stringify({ ...base, name: undefined, thumbnail: { atPercnt: 5 } }),
        'jobs/a.json',
        'a',
      ),
    /atPercnt/,
  );
  // The built-ins and a correct template still parse.
  assert.equal(parseTemplate({ ...base, mp4: { enabled: false } }).mp4.enabled, false);
});

test('destinationBucket is checked at request time: the source bucket and bad names are refused before any encode', async (t) => {
  const { app, put } = await buildTestApi(t);
  await put('talk.mp4');
  problem(
    await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { key: 'talk.mp4', destinationBucket: 'source' },
    }),
    400,
    'INVALID_DESTINATION',
    'source',
  );
  problem(
    await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { key: 'talk.mp4', destinationBucket: '../../etc' },
    }),
    400,
    'INVALID_OBJECT_KEY',
    'etc',
  );
  const ok = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { key: 'talk.mp4', destinationBucket: 'published' },
  });
  assert.equal(ok.statusCode, 201, JSON.stringify(ok.json()));
  assert.equal((ok.json() as { destination: { bucket: string } }).destination.bucket, 'published');
});

test('the same object and template with another destination or userMetadata is 409 JOB_CONFLICT with the existing job', async (t) => {
  const { app, put } = await buildTestApi(t);
  await put('talk.mp4');
  const first = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { key: 'talk.mp4', userMetadata: { application: 'courses' } },
  });
  assert.equal(first.statusCode, 201);
  const id = first.json().id;
  const same = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { key: 'talk.mp4', userMetadata: { application: 'courses' } },
  });
  assert.equal(same.statusCode, 200, 'the identical request is idempotent');
  assert.equal(same.json().id, id);
  for (const payload of [
    { key: 'talk.mp4', userMetadata: { application: 'marketing' } },
    { key: 'talk.mp4', userMetadata: { application: 'courses' }, destinationBucket: 'published' },
  ]) {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload });
    const body = problem(res, 409, 'JOB_CONFLICT') as unknown as { job: { id: string } };
    assert.equal(body.job.id, id, 'the problem carries the existing job');
  }
  const other = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { key: 'talk.mp4', template: 'hls-720p' },
  });
  assert.equal(other.statusCode, 201, 'another template is another job');
});
