// Must show (issue 11): a real `sluice serve`, a real job through real ffmpeg, read over Server-Sent
// Events from SUBMITTED through progress to COMPLETE, the connection dropped midway and resumed with
// Last-Event-ID: the durable events read are exactly the job's told events (ids as GET
// /v1/jobs/:id/events lists them), none missed, none twice, and progress messages came between them.
// Beside it, `sluice job ID --follow` follows the same job over the stream (no polling).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ApiClient } from '../../src/cli/api-client.ts';
import type { SseEvent } from '../../src/cli/event-stream-client.ts';
import { loadConfig } from '../../src/config/config.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { notificationTypeOf } from '../../src/notify/cloud-event.ts';
import { startService } from '../../src/service.ts';
import { clip, silentLog, tempDir, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';
import { openSse } from '../sse-reader.ts';

const run = promisify(execFile);

// Slow enough to show progress over several heartbeats (0.5 s in real-server.ts): a 4 s clip encoded
// at a slow preset, two renditions.
const SLOW_TEMPLATE = {
  ladder: [
    { name: '180p', height: 180, videoBitrateKbps: 300 },
    { name: '144p', height: 144, videoBitrateKbps: 200 },
  ],
  video: { preset: 'slower' },
  packaging: { segmentSeconds: 1 },
};

test('SSE: one job from SUBMITTED through progress to COMPLETE, dropped midway and resumed with Last-Event-ID, nothing missed or repeated', async (t) => {
  const server = await startRealServer(t, {
    templates: { slow: SLOW_TEMPLATE },
    env: { SLUICE_DEFAULT_TEMPLATE: 'slow', SLUICE_LOG_LEVEL: 'debug' },
  });
  const input = await clip({ width: 320, height: 180, seconds: 4, noise: true, bitrateKbps: 800 });
  const { jobs } = await server.api.upload(input, 'talk.mp4');
  const id = jobs[0]?.id ?? '';
  // The CLI follows the same job alongside (checked at the end).
  const env = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
  const cli = run(process.execPath, [SLUICE_BIN, '--server', server.url, 'job', id, '--follow', '--json'], {
    env,
  });

  const first = await openSse(`${server.url}/v1/jobs/${id}/events`);
  assert.equal(first.status, 200);
  const durable = (m: SseEvent[]) => m.filter((x) => x.id !== undefined);
  const progress = (m: SseEvent[]) => m.filter((x) => x.event === 'sluice.job.progress');
  await first.until(
    'PROGRESSING and a progress message',
    (m) => m.some((x) => x.event === 'sluice.job.progressing') && progress(m).length >= 1,
    60_000,
  );
  first.close();
  const lastSeen = durable(first.messages).at(-1)?.id ?? '';
  assert.notEqual(lastSeen, '');
  const toldIds = async () => {
    const res = await fetch(`${server.url}/v1/jobs/${id}/events`);
    const { events } = (await res.json()) as { events: { id: number; type: string }[] };
    return events.filter((e) => notificationTypeOf(e.type)).map((e) => String(e.id));
  };
  // While disconnected the job goes on: at least one told event is logged that this client has not seen.
  await waitFor('an event while disconnected', async () =>
    (await toldIds()).some((x) => Number(x) > Number(lastSeen)),
  );

  const second = await openSse(`${server.url}/v1/jobs/${id}/events`, { 'last-event-id': lastSeen });
  assert.equal(second.status, 200);
  await second.until('COMPLETE', (m) => m.some((x) => x.event === 'sluice.job.complete'), 120_000);
  second.close();

  const got = [...durable(first.messages), ...durable(second.messages)];
  assert.deepEqual(
    got.map((m) => m.id),
    await toldIds(),
    'the durable events read, across both connections, are exactly the job log told events',
  );
  assert.ok(durable(second.messages).length >= 1, 'the second connection replayed what was missed');
  assert.equal(got[0]?.event, 'sluice.job.submitted');
  assert.equal(got.at(-1)?.event, 'sluice.job.complete');
  for (const m of got) {
    const ce = JSON.parse(m.data) as { type: string; data: { event: { seq: number }; job: { id: string } } };
    assert.equal(ce.type, m.event);
    assert.equal(String(ce.data.event.seq), m.id);
    assert.equal(ce.data.job.id, id);
  }
  // A late reader resuming after the first event (SUBMITTED) gets every other one, the next included.
  const told = await toldIds();
  const late = await openSse(`${server.url}/v1/jobs/${id.slice(0, -2)}/events?lastEventId=${told[0]}`);
  await late.until('the rest', (m) => m.some((x) => x.event === 'sluice.job.complete'));
  late.close();
  assert.deepEqual(
    durable(late.messages).map((m) => m.id),
    told.slice(1),
  );

  const progressed = progress([...first.messages, ...second.messages]);
  assert.ok(progressed.length >= 1);
  for (const p of progressed) {
    assert.equal(p.id, undefined, 'a progress message has no id: it does not move Last-Event-ID');
    const d = JSON.parse(p.data) as { jobId: string; status: string; progress: { percent: number } };
    assert.equal(d.jobId, id);
    assert.equal(d.status, 'PROGRESSING');
    assert.equal(typeof d.progress.percent, 'number');
  }

  // `sluice job --follow` ended with the job, having read the stream: it fetched the job only to start
  // and to end (polling would fetch it every 500 ms of a run of several seconds).
  const followed = await cli;
  assert.equal((JSON.parse(followed.stdout) as { status: string }).status, 'COMPLETE');
  assert.match(followed.stderr, /PROGRESSING/);
  const jobGets = server
    .logs()
    .filter((l) => (l.url === `/v1/jobs/${id}` || l.url === `/v1/jobs/${id}/`) && l.method === 'GET');
  assert.equal(jobGets.length, 2, `GET /v1/jobs/${id}: ${jobGets.length} times`);
});

test('service.stop ends every event stream first, while running jobs still have their grace; new streams get 503', async (t) => {
  const dataDir = await tempDir(t);
  await fs.mkdir(path.join(dataDir, 'templates'));
  await fs.writeFile(path.join(dataDir, 'templates', 'slow.json'), JSON.stringify(SLOW_TEMPLATE));
  const config = loadConfig(
    {
      dataDir,
      port: 0,
      settleMs: 300,
      schedulerIntervalMs: 100,
      heartbeatSeconds: 0.3,
      concurrency: 1,
      logLevel: 'silent',
      defaultTemplate: 'slow',
    },
    {},
  );
  const service = await startService(config, silentLog);
  let stopped: Promise<void> | undefined;
  t.after(() => stopped ?? service.stop(0));
  const api = new ApiClient(service.url);
  // The job is stopped as it starts: it runs on for seconds after the stop begins.
  const input = await clip({ width: 320, height: 180, seconds: 4, noise: true, bitrateKbps: 800 });
  const { jobs } = await api.upload(input, 'talk.mp4');
  const id = jobs[0]?.id ?? '';
  const all = await openSse(`${service.url}/v1/events?from=start`);
  const one = await openSse(`${service.url}/v1/jobs/${id}/events`);
  await one.until('PROGRESSING', (m) => m.some((x) => x.event === 'sluice.job.progressing'), 60_000);
  const order: string[] = [];
  stopped = service.stop(60_000).then(() => {
    order.push('stopped');
  });
  let statusAtEnd: string | undefined;
  const ended = Promise.all([all.done, one.done]).then(async () => {
    order.push('streams ended');
    statusAtEnd = await service.store.get(id).then(
      (j) => j?.status,
      () => 'the store closed: the stop had ended',
    );
  });
  await Promise.race([ended, stopped]);
  // While the stop waits for the running job, a new stream is refused (the port is still open).
  const refused = await fetch(`${service.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  assert.equal(((await refused.json()) as { code: string }).code, 'SERVER_BUSY');
  await Promise.all([ended, stopped]);
  assert.deepEqual(order, ['streams ended', 'stopped']);
  assert.equal(statusAtEnd, 'PROGRESSING', 'the streams ended while the job still ran in its grace');
});
