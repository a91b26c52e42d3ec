// Every job owns its outputs (issue 7, finding 1), against a real `sluice serve`: the destination keeps
// the input's extension and the template apart, a re-run replaces its set as a whole (readers never see a
// manifest pointing at a missing file, nothing of the old set survives), and a job's listed outputs exist.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer, TINY_TEMPLATE } from '../real-server.ts';

const finished = (j: JobView) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status);

async function done(server: RealServer, id: string): Promise<JobView> {
  const job = await waitFor(`job ${id} to finish`, async () => {
    const j = await server.api.getJob(id);
    return finished(j) && j;
  });
  assert.equal(job.status, 'COMPLETE', `${job.input.key}: ${job.error?.code} ${job.error?.message}`);
  return job;
}

/** Every output a job lists is there (a `segments` entry names a folder). */
async function assertOutputsExist(server: RealServer, job: JobView) {
  assert.ok(job.outputs.length > 0 || job.outputsReplacedBy, `${job.id} lists outputs`);
  for (const o of job.outputs) {
    const file = path.join(server.dataDir, 'buckets', o.bucket, ...o.key.split('/').filter(Boolean));
    const st = await fs.stat(file).catch(() => null);
    assert.ok(st, `${job.id} lists ${o.bucket}/${o.key}, which exists`);
  }
}

async function tree(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function upload(server: RealServer, file: string, key: string, template?: string) {
  const { jobs } = await server.api.upload(file, key, template);
  return jobs;
}

test('real sluice serve: talk.mp4 and talk.mov, and one input through two templates, publish into separate sets', async (t) => {
  const server = await startRealServer(t, {
    templates: { tiny: TINY_TEMPLATE, other: { ...TINY_TEMPLATE, mp4: { enabled: false } } },
  });
  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const mp4 = await upload(server, input, 'talk.mp4');
  const mov = await upload(server, input, 'talk.mov');
  const res = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'talk.mp4', template: 'other' }),
  });
  assert.equal(res.status, 201);
  const other = (await res.json()) as JobView;
  const jobs = [];
  for (const id of [mp4[0]?.id, mov[0]?.id, other.id]) jobs.push(await done(server, id ?? ''));
  assert.deepEqual(
    jobs.map((j) => j.destination.prefix),
    ['talk.mp4/tiny', 'talk.mov/tiny', 'talk.mp4/other'],
  );
  for (const j of jobs) {
    const now = await server.api.getJob(j.id);
    assert.equal(now.outputsReplacedBy, null, `${j.id} still owns its outputs`);
    await assertOutputsExist(server, now);
  }
  const files = await tree(server.destination);
  assert.ok(files.includes(path.join('talk.mp4', 'tiny', 'talk.mp4')));
  assert.ok(files.includes(path.join('talk.mov', 'tiny', 'talk.mp4')));
  assert.ok(files.includes(path.join('talk.mp4', 'other', 'master.m3u8')));
  assert.ok(!files.includes(path.join('talk.mp4', 'other', 'talk.mp4')), 'the other template makes no MP4');
});

test('real sluice serve: two settings files under jobs/ give two sets for one upload', async (t) => {
  const server = await startRealServer(t);
  await fs.mkdir(path.join(server.source, 'jobs'));
  await fs.writeFile(path.join(server.source, 'jobs', 'small.json'), JSON.stringify(TINY_TEMPLATE));
  await fs.writeFile(
    path.join(server.source, 'jobs', 'tiny-mp4.json'),
    JSON.stringify({ ...TINY_TEMPLATE, packaging: { hls: false, dash: false } }),
  );
  const jobs = await upload(server, await clip({ width: 320, height: 180, seconds: 1 }), 'talk.mp4');
  assert.equal(jobs.length, 2);
  const finishedJobs = [];
  for (const j of jobs) finishedJobs.push(await done(server, j.id));
  assert.deepEqual(finishedJobs.map((j) => j.destination.prefix).sort(), [
    'talk.mp4/small',
    'talk.mp4/tiny-mp4',
  ]);
  for (const j of finishedJobs) await assertOutputsExist(server, j);
});

test('real sluice serve: a re-run replaces the set whole; readers always find what the manifest names; the old job says its outputs were replaced', async (t) => {
  const server = await startRealServer(t);
  const long = await clip({ width: 320, height: 180, seconds: 3 });
  const short = await clip({ width: 320, height: 180, seconds: 1 });
  const first = await done(server, (await upload(server, long, 'talk.mp4'))[0]?.id ?? '');
  const set = path.join(server.destination, 'talk.mp4', 'tiny');
  const firstFiles = await tree(set);

  // A reader follows the manifests the whole time the second job runs.
  let reading = true;
  const broken: string[] = [];
  let reads = 0;
  const reader = (async () => {
    while (reading) {
      const master = await fs.readFile(path.join(set, 'master.m3u8'), 'utf8').catch(() => null);
      if (master === null) {
        broken.push('master.m3u8 missing');
        continue;
      }
      for (const uri of master.split('\n').filter((l) => l && !l.startsWith('#'))) {
        const media = await fs.readFile(path.join(set, uri), 'utf8').catch(() => null);
        if (media === null) {
          // The set was replaced between the two reads: the old manifest's files may go. Read again.
          const again = await fs.readFile(path.join(set, 'master.m3u8'), 'utf8').catch(() => '');
          if (again === master) broken.push(`${uri} missing while master.m3u8 names it`);
        }
      }
      reads++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const second = await done(server, (await upload(server, short, 'talk.mp4'))[0]?.id ?? '');
  reading = false;
  await reader;
  assert.deepEqual(broken, [], 'a reader never found a manifest naming a missing file');
  assert.ok(reads > 0);

  assert.equal(second.destination.prefix, first.destination.prefix, 'same input and template: same set');
  const secondFiles = await tree(set);
  const survivors = secondFiles.filter((f) => f.includes(`v${path.sep}${first.id}`));
  assert.deepEqual(survivors, [], 'no file of the old set survives');
  const chunks = (files: string[]) => files.filter((f) => f.endsWith('.m4s') && !f.includes('init')).length;
  assert.ok(chunks(secondFiles) < chunks(firstFiles), 'the shorter input has fewer segments, none left over');

  const old = await server.api.getJob(first.id);
  assert.equal(old.status, 'COMPLETE');
  assert.equal(old.outputsReplacedBy, second.id, 'the first job says which job replaced its outputs');
  assert.deepEqual(old.outputs, [], 'and lists no outputs that are gone');
  await assertOutputsExist(server, await server.api.getJob(second.id));
  const events = (await (await fetch(`${server.url}/v1/jobs/${first.id}/events`)).json()) as {
    events: { type: string }[];
  };
  assert.ok(events.events.some((e) => e.type === 'job:outputs-replaced'));
});
