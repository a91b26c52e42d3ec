// Object-store notifications end to end, against a real `sluice serve` on the local store: 5 clips
// placed in the source bucket, their S3-style notifications posted to POST /v1/ingest/events three
// times each in shuffled order (five requests in flight at a time) -> exactly 5 jobs -> 5 COMPLETE; then the same through NATS JetStream
// (the real server on this machine), with the server killed (SIGKILL) mid-way and started again. The
// watcher's settle time is set beyond the test, so the jobs come from the events alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { clip, shuffled, waitFor } from '../helpers.ts';
import { s3Record } from '../ingest/notification-samples.ts';
import { allComplete, freePort, startRealServer } from '../real-server.ts';

const TOKEN = 'e2e-ingest-token-0123456789';
const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
/** The watcher would take a file only after it stayed unchanged this long: never, within the test. */
const NO_WATCHER = { SLUICE_SETTLE_MS: '600000', SLUICE_INGEST_TOKEN: TOKEN };

/** 5 clips placed in the source bucket (as an S3 client would), with their S3 event bodies. */
async function placeClips(dataDir: string, names: string[]) {
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const objects = new LocalObjectStore(dataDir);
  const bodies: { key: string; body: unknown }[] = [];
  for (const [i, name] of names.entries()) {
    const key = `inputs/${name}`;
    const file = path.join(dataDir, 'buckets', 'source', 'inputs', name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.copyFile(input, file);
    const info = await objects.stat('source', key);
    assert.ok(info);
    const encoded = key
      .split('/')
      .map((s) => encodeURIComponent(s).replace(/%20/g, '+'))
      .join('/');
    bodies.push({
      key,
      body: {
        Records: [s3Record({ key: encoded, etag: `"${info.etag}"`, size: info.size, sequencer: `00${i}A` })],
      },
    });
  }
  return bodies;
}

const NAMES = ['a.mp4', 'b b.mp4', 'c(1).mp4', 'd.mp4', 'e.mp4'];

test('real sluice serve: 5 S3 notifications posted 3 times each, shuffled, 5 in flight -> exactly 5 jobs, all COMPLETE', async (t) => {
  const server = await startRealServer(t, { env: NO_WATCHER });
  const bodies = await placeClips(server.dataDir, NAMES);
  const deliveries = shuffled([...bodies, ...bodies, ...bodies]);
  const post = async (d: { body: unknown }) => {
    const r = await fetch(`${server.url}/v1/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(d.body),
    });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as { created: number; duplicates: number };
  };
  // Five at a time: copies of one event are in flight together (the shuffle puts two in the first five).
  assert.ok(new Set(deliveries.slice(0, 5).map((d) => d.key)).size < 5);
  const summaries = [];
  for (let i = 0; i < deliveries.length; i += 5) {
    summaries.push(...(await Promise.all(deliveries.slice(i, i + 5).map(post))));
  }
  assert.equal(
    summaries.reduce((a, s) => a + s.created, 0),
    5,
  );
  assert.equal(
    summaries.reduce((a, s) => a + s.duplicates, 0),
    10,
  );
  const jobs = await allComplete(server, 5);
  assert.deepEqual(jobs.map((j) => j.input.key).sort(), bodies.map((b) => b.key).sort());
  // Unauthenticated: refused, even on loopback, once a token is configured.
  const anon = await fetch(`${server.url}/v1/ingest/events`, { method: 'POST', body: '{}' });
  assert.equal(anon.status, 401);
});

test('real sluice serve + NATS JetStream: 15 messages for 5 clips, the server SIGKILLed mid-way and restarted -> exactly 5 jobs COMPLETE', async (t) => {
  const id = randomBytes(4).toString('hex');
  const stream = `SLUICE_E2E_${id}`;
  const subject = `sluice.e2e.${id}`;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  });
  await jsm.streams.add({ name: stream, subjects: [subject] });
  const env = {
    ...NO_WATCHER,
    SLUICE_NATS_URL: NATS_URL,
    SLUICE_NATS_STREAM: stream,
    SLUICE_NATS_SUBJECT: subject,
    SLUICE_NATS_ACK_WAIT_SECONDS: '2',
  };
  const port = await freePort();
  // Both servers use this data directory; it is removed after both stopped (hooks run in order).
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-e2e-nats-'));
  const first = await startRealServer(t, { env, port, dataDir });
  const bodies = await placeClips(first.dataDir, NAMES);
  const js = (await import('@nats-io/jetstream')).jetstream(nc);
  for (const d of shuffled([...bodies, ...bodies, ...bodies], 11))
    await js.publish(subject, JSON.stringify(d.body));
  await waitFor(
    'a first job',
    async () => (await first.api.listJobs(undefined, 100)).jobs.length > 0,
    30_000,
  );
  await first.stop(); // SIGKILL: whatever it took and did not acknowledge is redelivered
  const second = await startRealServer(t, { env, port, dataDir });
  t.after(() => fs.rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  const jobs = await allComplete(second, 5);
  assert.equal(jobs.length, 5);
  await waitFor(
    'every message acknowledged',
    async () => {
      const ci = await jsm.consumers.info(stream, 'sluice-ingest');
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    },
    30_000,
  );
  assert.equal((await second.api.listJobs(undefined, 100)).jobs.length, 5);
  // Whether the kill landed before some acks depends on timing: said, not asserted (the deterministic
  // case is in test/ingest/jetstream-source.test.ts).
  const retaken = second.logs().filter((l) => l.msg === 'object notification taken').length;
  t.diagnostic(`the restarted server took ${retaken} message(s) the killed one had not acknowledged`);
});
