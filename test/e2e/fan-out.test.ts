// Pipelines from a configuration file, against a real `sluice serve --config` (real watcher, SQLite,
// ffmpeg workers): seed 003's fan-out, one upload under inputs/ making a 720p and a 1080p job with their
// own outputs, grouped under one input (GET /v1/inputs/:id); a .mov and a file outside inputs/ make no
// job and are listed as skipped, with why; and jobs are claimed by priority before age.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { InputView } from '../../src/api/input-routes.ts';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

/** Two small templates whose only difference is the ladder: a 720p and a 1080p rendition. */
const rendition = (name: string, height: number) => ({
  ladder: [{ name, height, videoBitrateKbps: 200 }],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 1, dash: false },
  mp4: { enabled: false },
  thumbnail: { enabled: false },
});
const TEMPLATES = { p720: rendition('720p', 720), p1080: rendition('1080p', 1080) };

const FAN_OUT = `# seed 003: one notification, two pipelines
pipelines:
  - name: hls-720p
    source: { bucket: source, prefix: inputs/, suffixes: [.mp4] }
    template: p720
    destination: { bucket: destination, prefix: 720p/ }
  - name: hls-1080p
    source: { bucket: source, prefix: inputs/, suffixes: [.mp4] }
    template: p1080
    destination: { bucket: destination, prefix: 1080p/ }
    priority: 5
`;

async function copyInto(dir: string, key: string, file: string) {
  const target = path.join(dir, ...key.split('/'));
  await fs.mkdir(path.dirname(target), { recursive: true });
  // Written beside and renamed in: the watcher sees the whole file at once.
  await fs.copyFile(file, `${target}.part`);
  await fs.rename(`${target}.part`, target);
}

async function configFile(dir: string, text: string): Promise<string> {
  const file = path.join(dir, 'sluice.yaml');
  await fs.writeFile(file, text, { mode: 0o600 });
  return file;
}

test('real sluice serve --config: one .mp4 under inputs/ fans out to a 720p and a 1080p job, one input COMPLETE; a .mov and a file outside inputs/ make none', async (t) => {
  const config = await configFile(await tempDir(t), FAN_OUT);
  const server = await startRealServer(t, { templates: TEMPLATES, args: ['--config', config] });
  // A 1080p source, 1 s at 4 fps: a real 1080p rendition, and little to encode.
  const input = await clip({ width: 1920, height: 1080, seconds: 1, fps: 4 });
  await copyInto(server.source, 'inputs/talk.mp4', input);
  await copyInto(server.source, 'inputs/talk.mov', input);
  await copyInto(server.source, 'elsewhere/talk.mp4', input);

  const jobs = await waitFor('two jobs', async () => {
    const { jobs } = await server.api.listJobs();
    return jobs.length >= 2 && jobs;
  });
  const inputId = jobs[0]?.inputId as string;
  assert.match(inputId, /^in_[0-9a-f]{16}$/);
  const input1 = await waitFor('the input to finish', async () => {
    const res = await fetch(`${server.url}/v1/inputs/${inputId}`);
    assert.equal(res.status, 200);
    const v = (await res.json()) as InputView;
    return ['COMPLETE', 'ERROR', 'CANCELED', 'PARTIAL'].includes(v.status) && v;
  });
  assert.equal(input1.status, 'COMPLETE', JSON.stringify(input1.jobs.map((j) => j.error)));
  assert.deepEqual(input1.input.key, 'inputs/talk.mp4');
  assert.deepEqual(input1.counts.COMPLETE, 2);
  assert.deepEqual(input1.jobs.map((j) => j.pipeline).sort(), ['hls-1080p', 'hls-720p']);
  for (const j of input1.jobs) {
    const full = (await server.api.getJob(j.id)) as JobView;
    assert.equal(full.inputId, inputId);
    const [prefix, height] = j.pipeline === 'hls-720p' ? ['720p/', 720] : ['1080p/', 1080];
    assert.equal(j.destination.prefix, `${prefix}inputs/talk.mp4/${j.template}`);
    assert.equal(j.priority, j.pipeline === 'hls-1080p' ? 5 : 0);
    // Its own outputs, in its own prefix, with its own rendition.
    assert.ok(j.outputs.length > 0);
    for (const o of j.outputs) {
      assert.ok(o.key.startsWith(`${j.destination.prefix}/`), `${o.key} is under ${j.destination.prefix}`);
      const st = await fs.stat(path.join(server.destination, ...o.key.split('/')));
      assert.ok(st, `${o.key} exists`);
    }
    const renditions = j.outputs.filter((o) => o.type === 'rendition');
    assert.ok(
      renditions.some((o) => o.key.includes(`${height}p`)),
      `${j.pipeline} has its ${height}p rendition`,
    );
    assert.ok(!j.outputs.some((o) => o.key.includes(`${height === 720 ? 1080 : 720}p`)), 'and not the other');
  }
  // Exactly the two jobs: nothing for the .mov nor the file outside inputs/.
  assert.equal((await server.api.listJobs()).jobs.length, 2);
  const skipped = await waitFor('both skips recorded', async () => {
    const { skipped } = await server.api.listSkipped();
    const mov = skipped.find((s) => s.key === 'inputs/talk.mov');
    const outside = skipped.find((s) => s.key === 'elsewhere/talk.mp4');
    return mov && outside && { mov, outside };
  });
  assert.equal(skipped.mov.reason, 'UNKNOWN_SUFFIX');
  assert.match(skipped.mov.message, /no pipeline takes this file's suffix; media files end in \.mp4$/);
  assert.equal(skipped.outside.reason, 'OUTSIDE_PREFIX');
  assert.match(skipped.outside.message, /take keys under inputs\//);

  // `sluice input ID` shows the same, one line per pipeline.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.resolve('bin/sluice.js'), '--server', server.url, 'input', inputId],
    { env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } },
  );
  assert.match(stdout, new RegExp(`^${inputId} {2}COMPLETE {2}source/inputs/talk\\.mp4\n`));
  assert.match(stdout, /hls-720p {3}job_\S+ {2}COMPLETE +100% {2}destination\/720p\/inputs\/talk\.mp4\/p720/);
  assert.match(
    stdout,
    /hls-1080p {2}job_\S+ {2}COMPLETE +100% {2}destination\/1080p\/inputs\/talk\.mp4\/p1080/,
  );

  // The inputs list shows it; unknown and malformed ids are INPUT_NOT_FOUND.
  const list = (await (await fetch(`${server.url}/v1/inputs`)).json()) as { inputs: InputView[] };
  assert.deepEqual(
    list.inputs.map((i) => [i.id, i.status]),
    [[inputId, 'COMPLETE']],
  );
  for (const id of ['in_0123456789abcdef', '../etc', 'in_0123456789ABCDEF', 'in_%00']) {
    const res = await fetch(`${server.url}/v1/inputs/${encodeURIComponent(id)}`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, 'INPUT_NOT_FOUND');
  }
});

test('real sluice serve --config: with one worker, a high-priority job queued last runs before older low-priority ones', async (t) => {
  const config = await configFile(
    await tempDir(t),
    `pipelines:
  - name: batch
    source: { bucket: source, prefix: batch/ }
    template: p720
    destination: { bucket: destination, prefix: batch/ }
  - name: urgent
    source: { bucket: source, prefix: urgent/ }
    template: p720
    destination: { bucket: destination, prefix: urgent/ }
    priority: 10
`,
  );
  const input = await clip({ width: 320, height: 180, seconds: 1, fps: 4 });
  // A control plane without workers queues the three jobs (urgent last); then a server with one
  // worker (concurrency 1) on the same data directory takes them.
  const queuing = await startRealServer(t, {
    templates: TEMPLATES,
    args: ['--config', config, '--no-local-workers'],
  });
  for (const key of ['batch/a.mp4', 'batch/b.mp4', 'urgent/c.mp4']) {
    await queuing.api.upload(input, key);
  }
  const queued = (await queuing.api.listJobs()).jobs;
  assert.deepEqual(queued.map((j) => [j.input.key, j.status, j.priority]).sort(), [
    ['batch/a.mp4', 'SUBMITTED', 0],
    ['batch/b.mp4', 'SUBMITTED', 0],
    ['urgent/c.mp4', 'SUBMITTED', 10],
  ]);
  await queuing.stop();
  const server = await startRealServer(t, {
    dataDir: queuing.dataDir,
    templates: TEMPLATES,
    args: ['--config', config],
  });
  const done = await waitFor('three jobs COMPLETE', async () => {
    const { jobs } = await server.api.listJobs();
    return jobs.filter((j) => j.status === 'COMPLETE').length === 3 && jobs;
  });
  const order = [...done]
    .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''))
    .map((j) => j.input.key);
  assert.deepEqual(order, ['urgent/c.mp4', 'batch/a.mp4', 'batch/b.mp4']);
  // Stopped here: the first server's hook removes the data directory they share.
  await server.stop();
});
