// Issue 10's end-to-end proof on S3: `sluice serve` with SLUICE_STORAGE=s3 against s3rver (a real
// S3-protocol server on loopback started by the test), 20 objects uploaded with the AWS SDK, and their S3
// event notifications delivered three times each, shuffled: once posted to POST /v1/ingest/events (five
// requests in flight), once published to NATS JetStream (the real server on this machine). Two of the keys
// are overwritten before any notification goes out, so their first version's notifications are stale
// (older sequencer, another etag) and arrive mixed with the current one's. Each time: exactly 20 jobs, one
// per current object version, all COMPLETE in one attempt, and exactly one published output set per input
// in the destination bucket (one version folder, nothing staged). The uploads start once the source
// watch's start reconcile has listed the empty bucket, and the next one is 5 minutes away, so the jobs
// come from the notifications alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, shuffled, waitFor } from '../helpers.ts';
import { s3Record } from '../ingest/notification-samples.ts';
import { allComplete, startRealServer } from '../real-server.ts';
import { listedOnce, type S3Server, s3Client, s3ServeEnv, startS3rver } from '../s3rver.ts';

const TOKEN = 'e2e-s3-ingest-token-0123456789';
const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const OBJECTS = 20;
/** Keys overwritten before their notifications go out: their first version's events are stale. */
const OVERWRITTEN = new Set([3, 11]);

function serveEnv(s3: S3Server, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...s3ServeEnv(s3),
    SLUICE_INGEST_TOKEN: TOKEN,
    SLUICE_CONCURRENCY: '2',
    ...extra,
  };
}

interface Uploaded {
  key: string;
  /** The version each notification names, current last. */
  versions: { etag: string; size: number; sequencer: string }[];
}

/** Uploads OBJECTS clips under `prefix` with the SDK (two of them twice); returns what S3 would notify. */
async function upload(client: S3Client, prefix: string): Promise<Uploaded[]> {
  const first = await fs.readFile(await clip({ width: 160, height: 90, seconds: 1 }));
  const second = await fs.readFile(await clip({ width: 128, height: 72, seconds: 1 }));
  const out: Uploaded[] = [];
  for (let i = 0; i < OBJECTS; i++) {
    // A space and parentheses: S3 sends them URL-encoded, with + for the space.
    const key = `${prefix}/clip ${i} (take).mp4`;
    const bodies = OVERWRITTEN.has(i) ? [first, second] : [first];
    const versions = [];
    for (const [v, body] of bodies.entries()) {
      const put = await client.send(
        new PutObjectCommand({ Bucket: 'source', Key: key, Body: body, ContentType: 'video/mp4' }),
      );
      assert.ok(put.ETag);
      versions.push({
        etag: put.ETag,
        size: body.length,
        sequencer: `0065A1B2C3D4E5F6${String(i).padStart(2, '0')}${v}`,
      });
    }
    out.push({ key, versions });
  }
  return out;
}

/** Each version's S3 event notification body (one record), three copies of each, shuffled. */
function deliveries(uploaded: Uploaded[], seed: number): { key: string; body: string }[] {
  const one = uploaded.flatMap((u) =>
    u.versions.map((v) => ({
      key: u.key,
      body: JSON.stringify({
        Records: [
          s3Record({
            key: u.key
              .split('/')
              .map((s) => encodeURIComponent(s).replace(/%20/g, '+'))
              .join('/'),
            etag: v.etag,
            size: v.size,
            sequencer: v.sequencer,
          }),
        ],
      }),
    })),
  );
  return shuffled([...one, ...one, ...one], seed);
}

/** Exactly one job per current object version, each in one attempt; one published set per input. */
async function assertOnceEach(client: S3Client, jobs: JobView[], uploaded: Uploaded[]): Promise<void> {
  assert.equal(jobs.length, OBJECTS, 'one job per object');
  const byKey = new Map(jobs.map((j) => [j.input.key, j]));
  assert.equal(byKey.size, OBJECTS, 'no object has two jobs');
  for (const u of uploaded) {
    const job = byKey.get(u.key);
    assert.ok(job, `a job for ${u.key}`);
    const current = u.versions.at(-1);
    assert.equal(`"${job.input.etag}"`, current?.etag, `${u.key}: the current version, not a stale one`);
    assert.equal(job.attempts, 1, `${u.key}: one attempt`);
  }
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: 'destination', ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((c) => c.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  assert.deepEqual(
    keys.filter((k) => k.startsWith('.staging/')),
    [],
    'nothing left staged',
  );
  for (const job of jobs) {
    const set = job.destination.prefix;
    const own = keys.filter((k) => k.startsWith(`${set}/`));
    assert.equal(own.filter((k) => k === `${set}/master.m3u8`).length, 1, `${set}: one HLS master`);
    const versionFolders = new Set(
      own.map((k) => /^v\/([^/]+)\//.exec(k.slice(set.length + 1))?.[1]).filter(Boolean),
    );
    assert.equal(versionFolders.size, 1, `${set}: one published version (${[...versionFolders]})`);
    for (const o of job.outputs.filter((x) => !x.key.endsWith('/')))
      assert.ok(keys.includes(o.key), `${o.key} is in the destination bucket`);
  }
  const sets = new Set(jobs.map((j) => j.destination.prefix));
  assert.equal(sets.size, OBJECTS, 'one output set per input');
}

test('sluice serve on s3rver (a real S3-protocol server): 20 SDK uploads, their S3 notifications posted 3 times each and out of order -> 20 jobs, 20 COMPLETE, outputs once each', async (t) => {
  const s3 = await startS3rver(t);
  const client = s3Client(s3);
  t.after(() => client.destroy());
  const server = await startRealServer(t, { env: serveEnv(s3) });
  await listedOnce(s3); // the start reconcile saw an empty bucket: the jobs come from the notifications
  const uploaded = await upload(client, 'http');
  const posts = deliveries(uploaded, 7);
  const post = async (d: { body: string }) => {
    const r = await fetch(`${server.url}/v1/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: d.body,
    });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as { created: number; duplicates: number; stale: number };
  };
  const summaries: { created: number; duplicates: number; stale: number }[] = [];
  for (let i = 0; i < posts.length; i += 5)
    summaries.push(...(await Promise.all(posts.slice(i, i + 5).map(post))));
  const sum = (f: 'created' | 'duplicates' | 'stale') => summaries.reduce((a, s) => a + s[f], 0);
  assert.equal(sum('created'), OBJECTS, 'one job per current version');
  assert.equal(sum('stale'), OVERWRITTEN.size * 3, "every copy of an overwritten version's event is stale");
  assert.equal(sum('duplicates'), OBJECTS * 2, 'the other copies are duplicates');
  const jobs = await allComplete(server, OBJECTS, 240_000);
  await assertOnceEach(client, jobs, uploaded);
});

test('sluice serve on s3rver + NATS JetStream: the same 20 uploads, each S3 notification published 3 times out of order -> 20 jobs, 20 COMPLETE, outputs once each', async (t) => {
  const id = randomBytes(4).toString('hex');
  const stream = `SLUICE_E2E_S3_${id}`;
  const subject = `sluice.e2e.s3.${id}`;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  });
  await jsm.streams.add({ name: stream, subjects: [subject] });
  const s3 = await startS3rver(t);
  const client = s3Client(s3);
  t.after(() => client.destroy());
  const server = await startRealServer(t, {
    env: serveEnv(s3, {
      SLUICE_NATS_URL: NATS_URL,
      SLUICE_NATS_STREAM: stream,
      SLUICE_NATS_SUBJECT: subject,
      SLUICE_NATS_CONSUMER: `sluice-${id}`,
    }),
  });
  await listedOnce(s3);
  const uploaded = await upload(client, 'nats');
  const js = jetstream(nc);
  for (const d of deliveries(uploaded, 11)) await js.publish(subject, d.body);
  const jobs = await allComplete(server, OBJECTS, 240_000);
  await assertOnceEach(client, jobs, uploaded);
  await waitFor(
    'every message acknowledged',
    async () => {
      const ci = await jsm.consumers.info(stream, `sluice-${id}`);
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    },
    30_000,
  );
  assert.equal((await server.api.listJobs(undefined, 100)).jobs.length, OBJECTS, 'still 20 jobs');
});
