// Must show (issue 11): webhooks survive a receiver that is down, then overloaded, then fine, while
// `sluice serve` is SIGKILLed and restarted on the same data directory in between. Real processes: the
// server, its workers and ffmpeg on tiny clips; a real receiver on loopback that verifies every request
// with the `standardwebhooks` package and processes each webhook-id once (it counts the duplicates it
// sees, which at-least-once delivery allows). In the end every told event of every job, as the server's
// own event log holds them, was processed exactly once, and every delivery is DELIVERED.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import type { DeliveryView } from '../../src/api/webhook-routes.ts';
import type { JobEvent } from '../../src/jobs/job.ts';
import { cloudEventId, type JobCloudEvent, notificationTypeOf } from '../../src/notify/cloud-event.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { freePort, type RealServer, startRealServer } from '../real-server.ts';
import { WebhookReceiver } from '../webhook-receiver.ts';

const run = promisify(execFile);

const ENV = {
  SLUICE_WEBHOOK_ALLOW_PRIVATE: 'true',
  SLUICE_WEBHOOK_TIMEOUT_MS: '2000',
  // Short retry steps, so the receiver's bad spells cost seconds, not minutes.
  SLUICE_NOTIFY_RETRY_BASE_SECONDS: '0.2',
  SLUICE_NOTIFY_RETRY_MAX_SECONDS: '1',
};

async function workerPids(serverUrl: string): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .filter((l) => l.includes(`--server ${serverUrl}`) && l.includes(' worker '))
    .map((l) => Number.parseInt(l.trim(), 10));
}

test('every job event reaches a webhook receiver that is down, then 503, then up, across two server kills', async (t) => {
  const dataDir = await tempDir(t);
  const port = await freePort();
  const start = () => startRealServer(t, { dataDir, port, env: ENV });
  t.after(async () => {
    for (const pid of await workerPids(`http://127.0.0.1:${port}`)) process.kill(pid, 'SIGKILL');
  });

  // The receiver: no listener yet (connections refused); later 503 with Retry-After; then 2xx.
  const receiverPort = await freePort();
  const receiver = new WebhookReceiver();
  t.after(() => receiver.close());
  let phase: 'busy' | 'up' = 'busy';
  let secret = '';
  const processed = new Map<string, JobCloudEvent>();
  let duplicates = 0;
  let busyAnswers = 0;
  const unverified: string[] = [];
  receiver.answer = (r) => {
    let event: JobCloudEvent;
    try {
      event = new Webhook(secret).verify(r.body, r.headers) as JobCloudEvent;
    } catch (err) {
      unverified.push(`${r.headers['webhook-id']}: ${(err as Error).message}`);
      return { status: 400 };
    }
    if (phase === 'busy') {
      busyAnswers++;
      return { status: 503, headers: { 'retry-after': '1' }, body: 'overloaded' };
    }
    const id = r.headers['webhook-id'] ?? '';
    if (id !== event.id) unverified.push(`webhook-id ${id} is not the CloudEvent's id ${event.id}`);
    if (processed.has(id)) duplicates++;
    else processed.set(id, event);
    return { status: 204 };
  };

  let server: RealServer = await start();
  const made = await fetch(`${server.url}/v1/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hooks/sluice`, description: 'must show' }),
  });
  assert.equal(made.status, 201, await made.clone().text());
  const webhook = (await made.json()) as { id: string; secret: string };
  secret = webhook.secret;
  const deliveries = async () => {
    const r = await fetch(`${server.url}/v1/webhooks/${webhook.id}/deliveries?limit=1000`);
    return ((await r.json()) as { deliveries: DeliveryView[] }).deliveries;
  };

  const input = await clip({ width: 320, height: 180, seconds: 1 });
  const jobIds: string[] = [];
  for (const key of ['one.mp4', 'two.mp4', 'three.mp4']) {
    const { jobs } = await server.api.upload(input, key);
    jobIds.push(...jobs.map((j) => j.id));
  }
  assert.equal(jobIds.length, 3);

  // 1. Nobody listens: attempts fail with refused connections and stay PENDING.
  await waitFor(
    'an attempt refused',
    async () =>
      (await deliveries()).some((d) => d.status === 'PENDING' && /ECONNREFUSED/.test(d.lastError ?? '')),
    20_000,
  );
  await server.stop(); // SIGKILL, jobs still queued or running

  // 2. The receiver answers 503 + Retry-After; the server comes back on the same data directory.
  await receiver.listen(receiverPort);
  server = await start();
  await waitFor('503s answered', async () => busyAnswers >= 3, 20_000);
  const busyLog = await deliveries();
  assert.ok(
    busyLog.some((d) => d.attemptLog.some((a) => a.statusCode === 503 && a.error === 'HTTP 503: overloaded')),
    'the delivery log has the 503s',
  );

  // 3. The receiver recovers; the server is killed once more while deliveries flow, and restarted.
  phase = 'up';
  await waitFor('a first event processed', async () => processed.size >= 1, 20_000);
  await server.stop();
  server = await start();

  // Every told event of every job, as the server's own log has them.
  const expected = async () => {
    const ids = new Map<string, string>();
    for (const id of jobIds) {
      const r = await fetch(`${server.url}/v1/jobs/${id}/events`);
      for (const e of ((await r.json()) as { events: JobEvent[] }).events) {
        const type = notificationTypeOf(e.type);
        if (type) ids.set(cloudEventId(e), type);
      }
    }
    return ids;
  };
  await waitFor(
    'every job COMPLETE',
    async () => {
      const { jobs } = await server.api.listJobs(undefined, 100);
      const bad = jobs.find((j) => j.status === 'ERROR' || j.status === 'CANCELED');
      if (bad) throw new Error(`job ${bad.id} ended ${bad.status}: ${bad.error?.code} ${bad.error?.message}`);
      return jobs.length === 3 && jobs.every((j) => j.status === 'COMPLETE');
    },
    60_000,
  );
  const want = await waitFor(
    'every event processed',
    async () => {
      const ids = await expected();
      return [...ids.keys()].every((id) => processed.has(id)) && ids;
    },
    30_000,
  );
  const log = await waitFor(
    'every delivery DELIVERED',
    async () => {
      const all = await deliveries();
      return all.length === want.size && all.every((d) => d.status === 'DELIVERED') && all;
    },
    20_000,
  );

  assert.deepEqual(unverified, [], 'every request verified with standardwebhooks');
  assert.deepEqual(
    [...processed.keys()].sort(),
    [...want.keys()].sort(),
    'each told event processed once, none else',
  );
  for (const [id, type] of want) assert.equal(processed.get(id)?.type, type, `${id} arrived as ${type}`);
  for (const jobId of jobIds) {
    const mine = [...processed.values()].filter((e) => e.data.job?.id === jobId);
    const types = mine.map((e) => e.type);
    for (const ty of ['sluice.job.submitted', 'sluice.job.progressing', 'sluice.job.complete'] as const)
      assert.ok(types.includes(ty), `${jobId}: ${ty} arrived (${types.join(', ')})`);
    const complete = mine.find((e) => e.type === 'sluice.job.complete');
    assert.equal(complete?.data.job?.status, 'COMPLETE');
    assert.ok((complete?.data.job?.outputs.length ?? 0) > 0, 'the COMPLETE event names the outputs');
  }
  assert.deepEqual(
    log.map((d) => d.eventId).sort(),
    [...want.keys()].sort(),
    'one delivery per event in the log',
  );
  const failedFirst = log.filter((d) => d.attemptLog.length > 1 && d.attemptLog.at(-1)?.ok);
  assert.ok(failedFirst.length > 0, 'some deliveries needed retries');
  t.diagnostic(
    `${want.size} events, ${receiver.requests.length} requests, ${busyAnswers} answered 503, ${duplicates} duplicates seen`,
  );
});
