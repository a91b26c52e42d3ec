// PUT /v1/uploads against a real `sluice serve` process: any content type is stored as raw bytes, a
// stored object is always the whole body, and a refused upload changes nothing (issue 7, findings 2-3).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { clip, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

/** A PUT with exactly the headers given (no content type unless asked), as curl -T or a browser sends it. */
function rawPut(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'PUT', headers: { 'content-length': String(body.length), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text);
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

test('real sluice serve: an upload of any content type (or none, as curl -T sends) stores the whole body', async (t) => {
  const server = await startRealServer(t);
  const body = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const cases: [string, Record<string, string>][] = [
    ['plain.mp4', { 'content-type': 'text/plain' }],
    ['json.mp4', { 'content-type': 'application/json' }],
    ['video.mp4', { 'content-type': 'video/mp4' }],
    ['form.mp4', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['none.mp4', {}],
    ['octet.mp4', { 'content-type': 'application/octet-stream' }],
  ];
  for (const [key, headers] of cases) {
    const res = await rawPut(`${server.url}/v1/uploads/${key}`, body, headers);
    assert.equal(res.status, 201, `${key} ${JSON.stringify(headers)}: ${JSON.stringify(res.json)}`);
    const stored = await fs.readFile(path.join(server.source, key));
    assert.equal(stored.length, body.length, `${key}: the whole body is stored`);
    assert.ok(stored.equals(body), `${key}: the stored bytes are the body`);
  }
});

test('real sluice serve: a text/plain upload over an existing object replaces it with the whole body, never 0 bytes', async (t) => {
  const server = await startRealServer(t);
  const first = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const second = await fs.readFile(await clip({ width: 160, height: 90, seconds: 2 }));
  assert.equal((await rawPut(`${server.url}/v1/uploads/talk.mp4`, first, {})).status, 201);
  const res = await rawPut(`${server.url}/v1/uploads/talk.mp4`, second, { 'content-type': 'text/plain' });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  assert.ok((await fs.readFile(path.join(server.source, 'talk.mp4'))).equals(second));
});

test('real sluice serve: a key with an encoded % (100%25.mp4) is decoded once: stored as "100%.mp4"', async (t) => {
  const server = await startRealServer(t);
  const body = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const res = await rawPut(`${server.url}/v1/uploads/100%25.mp4`, body, {});
  assert.equal(res.status, 201, JSON.stringify(res.json));
  assert.ok(await exists(path.join(server.source, '100%.mp4')));
  const spaced = await rawPut(`${server.url}/v1/uploads/a%20b/c%2525.mp4`, body, {});
  assert.equal(spaced.status, 201, JSON.stringify(spaced.json));
  assert.ok(await exists(path.join(server.source, 'a b', 'c%25.mp4')));
});

test('real sluice serve: an empty upload is refused (INPUT_EMPTY) and stores nothing', async (t) => {
  const server = await startRealServer(t);
  const res = await rawPut(`${server.url}/v1/uploads/empty.mp4`, Buffer.alloc(0), {});
  assert.equal(res.status, 422, JSON.stringify(res.json));
  assert.equal(res.json.code, 'INPUT_EMPTY');
  assert.equal(await exists(path.join(server.source, 'empty.mp4')), false);
});

test('real sluice serve: an upload refused with NO_MATCHING_PIPELINE stores nothing and replaces nothing', async (t) => {
  const server = await startRealServer(t);
  await fs.writeFile(path.join(server.source, 'notes.txt'), 'the operator’s notes');
  const res = await rawPut(`${server.url}/v1/uploads/notes.txt`, Buffer.from('overwritten'), {});
  assert.equal(res.status, 422);
  assert.equal(res.json.code, 'NO_MATCHING_PIPELINE');
  assert.equal(await fs.readFile(path.join(server.source, 'notes.txt'), 'utf8'), 'the operator’s notes');
  const fresh = await rawPut(`${server.url}/v1/uploads/fresh.txt`, Buffer.from('x'), {});
  assert.equal(fresh.status, 422);
  assert.equal(await exists(path.join(server.source, 'fresh.txt')), false);
  const unknownTemplate = await rawPut(`${server.url}/v1/uploads/a.mp4?template=nope`, Buffer.from('x'), {});
  assert.equal(unknownTemplate.json.code, 'TEMPLATE_NOT_FOUND');
  assert.equal(await exists(path.join(server.source, 'a.mp4')), false);
});

test('real sluice serve: PUT /v1/uploads/jobs/attacker.json is refused and never becomes a settings file', async (t) => {
  const server = await startRealServer(t);
  const attacker = Buffer.from(
    JSON.stringify({ ladder: [], timeoutSeconds: 0, cpuSeconds: 0, maxAttempts: 20 }),
  );
  for (const key of ['jobs/attacker.json', 'jobs/x.mp4', 'jobs/deep/er.json']) {
    const res = await rawPut(`${server.url}/v1/uploads/${key}`, attacker, {});
    assert.equal(res.status, 403, `${key}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.code, 'UPLOAD_KEY_RESERVED');
  }
  assert.equal(await exists(path.join(server.source, 'jobs')), false, 'nothing under jobs/');
  const body = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const res = await rawPut(`${server.url}/v1/uploads/after.mp4`, body, {});
  assert.equal(res.status, 201);
  const jobs = res.json.jobs as { templateName: string }[];
  assert.deepEqual(
    jobs.map((j) => j.templateName),
    ['tiny'],
    'later uploads run the pipeline template, not the attacker’s settings',
  );
});

test('real sluice serve: no template or settings file raises a limit above the server-wide ceilings', async (t) => {
  const server = await startRealServer(t, {
    env: {
      SLUICE_MAX_JOB_SECONDS: '600',
      SLUICE_MAX_CPU_SECONDS: '1200',
      SLUICE_MAX_ATTEMPTS: '2',
      SLUICE_MAX_INPUT_BYTES: '100000000',
    },
    templates: {
      tiny: {
        ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
        video: { preset: 'ultrafast' },
        timeoutSeconds: 0,
        cpuSeconds: 0,
        maxAttempts: 20,
        limits: { maxBytes: 1e12 },
      },
    },
  });
  // The operator's own settings file asks for no limits at all, too.
  await fs.mkdir(path.join(server.source, 'jobs'));
  await fs.writeFile(
    path.join(server.source, 'jobs', 'unlimited.json'),
    JSON.stringify({
      ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
      timeoutSeconds: 0,
      cpuSeconds: 0,
      maxAttempts: 20,
    }),
  );
  const body = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const res = await rawPut(`${server.url}/v1/uploads/limited.mp4`, body, {});
  assert.equal(res.status, 201, JSON.stringify(res.json));
  const post = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'limited.mp4', template: 'tiny' }),
  });
  const created = (await post.json()) as { id: string };
  type Settings = {
    timeoutSeconds: number;
    cpuSeconds: number;
    maxAttempts: number;
    limits: { maxBytes: number };
  };
  const jobs = [...(res.json.jobs as { id: string }[]), created];
  for (const j of jobs) {
    const job = await server.api.getJob(j.id);
    const s = job.template.settings as unknown as Settings;
    assert.equal(s.timeoutSeconds, 600, `${job.templateName}: time limit capped`);
    assert.equal(s.cpuSeconds, 1200, `${job.templateName}: CPU limit capped`);
    assert.equal(s.maxAttempts, 2, `${job.templateName}: attempts capped`);
    assert.equal(job.maxAttempts, 2);
    assert.equal(s.limits.maxBytes, 100000000, `${job.templateName}: input size limit capped`);
  }
  await waitFor('jobs finish', async () => {
    const all = await Promise.all(jobs.map((j) => server.api.getJob(j.id)));
    return all.every((j) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status));
  });
});
