// Templates from every source (built-in, user folder, `jobs/` settings files in the watch bucket) and the
// dry run, through the API on a real store and real buckets; the CLI's template and plan commands.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { objectCreatedEvent } from '../../src/ingest/object-event.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, tempDir } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

const run = promisify(execFile);

async function setup(t: Parameters<typeof tempDir>[0]) {
  const api = await buildTestApi(t, { userTemplates: true });
  await api.scheduler.stop(); // nothing is launched: these tests look at the jobs made
  const put = (key: string, body: string) => api.put(key, body);
  return { ...api, put };
}

test('settings files under jobs/ in the source bucket make one job each; none makes one default job', async (t) => {
  const { ingest, objects, put } = await setup(t);
  const first = await ingest.handle(objectCreatedEvent(await put('a.mp4', 'a'), 'test'));
  assert.deepEqual(
    first.jobs.map((j) => j.templateName),
    ['abr-default'],
    'no settings files: the default template',
  );

  await put(
    'jobs/small.json',
    JSON.stringify({ ladder: [{ name: 's', height: 240, videoBitrateKbps: 400 }] }),
  );
  await put(
    'jobs/mp4.json',
    JSON.stringify({
      ladder: [{ name: 'm', height: 720, videoBitrateKbps: 2500 }],
      packaging: { hls: false, dash: false },
    }),
  );
  await put('jobs/broken.json', '{"ladder": "not a list"}');
  const video = await put('b.mp4', 'b');
  const second = await ingest.handle(objectCreatedEvent(video, 'test'));
  assert.deepEqual(
    second.jobs.map((j) => j.templateName).sort(),
    ['mp4', 'small'],
    'one job per valid settings file',
  );
  assert.deepEqual(second.jobs.find((j) => j.templateName === 'small')?.template.ladder, [
    { name: 's', height: 240, videoBitrateKbps: 400 },
  ]);
  const again = await ingest.handle(objectCreatedEvent(video, 'test'));
  assert.equal(again.created, 0, 'the same event again makes no job');
  const settingsObject = await objects.stat('source', 'jobs/small.json');
  assert.ok(settingsObject);
  const settingsEvent = await ingest.handle(objectCreatedEvent(settingsObject, 'test'));
  assert.equal(settingsEvent.jobs.length, 0, 'a settings file is not an input');
});

test('GET /v1/templates lists built-ins and user templates; a user template with a bad field is named as such', async (t) => {
  const { dir, app } = await setup(t);
  await fs.writeFile(
    path.join(dir, 'templates', 'course.json'),
    JSON.stringify({ description: 'course', ladder: [{ name: 'a', height: 480, videoBitrateKbps: 1200 }] }),
  );
  await fs.writeFile(
    path.join(dir, 'templates', 'typo.json'),
    JSON.stringify({ ladder: [{ name: 'a', height: 480, videoBitrateKbs: 1200 }] }),
  );
  const list = (await app.inject('/v1/templates')).json().templates as {
    name: string;
    source: string;
    description: string;
  }[];
  assert.deepEqual(
    list.filter((x) => x.source === 'builtin').map((x) => x.name),
    ['abr-default', 'mp4-h264-aac', 'hls-720p', 'hls-1080p', 'audio-only'],
  );
  assert.equal(list.find((x) => x.name === 'course')?.description, 'course');
  assert.match(
    list.find((x) => x.name === 'typo')?.description ?? '',
    /INVALID.*ladder\[0\]\.videoBitrateKbps/,
  );
  const course = await app.inject('/v1/templates/course');
  assert.equal(course.json().packaging.segmentSeconds, 4, 'defaults filled in');
  const typo = await app.inject('/v1/templates/typo');
  assert.equal(typo.statusCode, 400);
  assert.equal(typo.json().code, 'INVALID_TEMPLATE');
  assert.match(typo.json().detail, /ladder\[0\]\.videoBitrateKbps/);
  assert.equal((await app.inject('/v1/templates/nope')).json().code, 'TEMPLATE_NOT_FOUND');
});

test('POST /v1/plan shows the renditions an object would get, by template name or inline settings', async (t) => {
  const { app, objects } = await setup(t);
  await objects.upload('source', 'in/clip.mp4', await clip({ width: 640, height: 360, seconds: 1 }));
  const res = await app.inject({ method: 'POST', url: '/v1/plan', payload: { key: 'in/clip.mp4' } });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.template, 'abr-default');
  assert.equal(body.input.video.width, 640);
  assert.deepEqual(
    body.plan.renditions.map((r: { width: number; height: number }) => `${r.width}x${r.height}`),
    ['640x360'],
  );
  const inline = await app.inject({
    method: 'POST',
    url: '/v1/plan',
    payload: {
      key: 'in/clip.mp4',
      settings: { ladder: [{ name: 'a', height: 240, videoBitrateKbps: 300 }], allowUpscale: true },
    },
  });
  assert.deepEqual(
    inline.json().plan.renditions.map((r: { height: number }) => r.height),
    [240],
  );
  const missing = await app.inject({ method: 'POST', url: '/v1/plan', payload: { key: 'nope.mp4' } });
  assert.equal(missing.json().code, 'OBJECT_NOT_FOUND');
});

test('sluice templates list|show|validate and sluice plan work on local files', async (t) => {
  const dir = await tempDir(t);
  const env = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
  const sluice = (...args: string[]) =>
    run(process.execPath, [SLUICE_BIN, '--data-dir', dir, ...args], { env });
  assert.match((await sluice('templates', 'list')).stdout, /abr-default\s+builtin/);
  assert.equal(JSON.parse((await sluice('templates', 'show', 'hls-720p')).stdout).ladder[0].height, 720);
  const bad = path.join(dir, 'bad.json');
  await fs.writeFile(bad, JSON.stringify({ ladder: [{ name: 'x', height: 'tall', videoBitrateKbps: 100 }] }));
  const refused = await sluice('templates', 'validate', bad).catch((e) => e);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /INVALID_TEMPLATE.*ladder\[0\]\.height/);
  const good = path.join(dir, 'good.json');
  await fs.writeFile(good, JSON.stringify({ ladder: [{ name: 'x', height: 240, videoBitrateKbps: 100 }] }));
  assert.match((await sluice('templates', 'validate', good)).stdout, /valid template/);
  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const plan = await sluice('plan', input);
  assert.match(plan.stdout, /video renditions/);
  assert.match(plan.stdout, /320x180/, 'a source smaller than every rung gets its own size');
  const json = JSON.parse((await sluice('plan', input, '--template', good, '--json')).stdout);
  assert.deepEqual(
    json.plan.renditions.map((r: { height: number }) => r.height),
    [180],
  );
});
