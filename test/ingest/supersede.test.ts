// A newer version of a key supersedes the queued and running jobs of its older versions in the same
// pipeline (issue 7, finding 4): they end CANCELED with error code SUPERSEDED, never ERROR; other keys,
// other scopes and finished jobs are left alone; a stale (out-of-order) event makes nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { objectCreatedEvent } from '../../src/ingest/object-event.ts';
import { buildTestApi } from '../api/test-api.ts';

test('a new version supersedes SUBMITTED and PROGRESSING jobs of older versions of the key, and only those', async (t) => {
  const { store, objects, ingest, put, scheduler, dir } = await buildTestApi(t);
  await scheduler.stop();
  const v1 = await put('talk.mp4', 'version 1');
  const other = await put('other.mp4', 'other');
  const [a] = (await ingest.handle(objectCreatedEvent(v1, 'test'))).jobs;
  const [o] = (await ingest.handle(objectCreatedEvent(other, 'test'))).jobs;
  const api = await ingest.createJob({
    source: 'request',
    pipeline: 'api',
    scope: 'api:hls-720p',
    bucket: 'source',
    key: 'talk.mp4',
    etag: v1.etag,
    template: 'hls-720p',
  });
  assert.ok(a && o);
  // v1's pipeline job is running when v2 lands.
  await store.claimNext('token-1', 30_000, new Date());
  assert.equal((await store.get(a.id))?.status, 'PROGRESSING');

  // The file is replaced; its mtime moves on so the version (etag) changes.
  const file = path.join(dir, 'buckets', 'source', 'talk.mp4');
  await fs.writeFile(file, 'version 2, longer');
  const later = new Date(Date.now() + 5000);
  await fs.utimes(file, later, later);
  const v2 = await objects.stat('source', 'talk.mp4');
  assert.ok(v2 && v2.etag !== v1.etag);
  // A stale event for v1 arriving after the change makes nothing.
  assert.equal((await ingest.handle(objectCreatedEvent(v1, 'test'))).jobs.length, 0, 'stale event skipped');
  const [b] = (await ingest.handle(objectCreatedEvent(v2, 'test'))).jobs;
  assert.ok(b);
  const old = await store.get(a.id);
  assert.equal(old?.status, 'CANCELED');
  assert.equal(old?.error?.code, 'SUPERSEDED');
  assert.match(old?.error?.message ?? '', new RegExp(b.id));
  const events = await store.events(a.id);
  assert.ok(events.some((e) => e.type === 'job:superseded' && e.data.by === b.id));
  assert.equal((await store.get(o.id))?.status, 'SUBMITTED', 'another key is untouched');
  assert.equal((await store.get(api.job.id))?.status, 'SUBMITTED', 'another scope (template) is untouched');
  assert.equal((await store.get(b.id))?.status, 'SUBMITTED');
});
