// GET /metrics scraped around real jobs: `sluice serve`'s service on loopback, a tiny lavfi clip and a
// file that is not media copied into the source bucket, real worker processes and ffmpeg. Between the
// scrapes the store-derived gauges and this server's own counters and histograms move.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { startService } from '../../src/service.ts';
import { clip, silentLog, tempDir, waitFor } from '../helpers.ts';

const TINY = {
  ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
  video: { preset: 'ultrafast' },
  packaging: { segmentSeconds: 1 },
};

/** The value of one sample (`name{labels}`; labels in any order), or undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('GET /metrics during a real run: job gauges, wait and processing histograms, speed and failures move', async (t) => {
  const dataDir = await tempDir(t);
  await fs.mkdir(path.join(dataDir, 'templates'));
  await fs.writeFile(path.join(dataDir, 'templates', 'tiny.json'), JSON.stringify(TINY));
  const config = loadConfig(
    {
      dataDir,
      port: 0,
      settleMs: 200,
      schedulerIntervalMs: 100,
      heartbeatSeconds: 0.3,
      concurrency: 1,
      logLevel: 'silent',
      defaultTemplate: 'tiny',
    },
    {},
  );
  const service = await startService(config, silentLog);
  t.after(() => service.stop(1000));
  const scrape = async () => {
    const res = await fetch(`${service.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };

  const before = await scrape();
  assert.equal(sample(before, 'sluice_jobs', { status: 'COMPLETE' }), 0);
  assert.equal(sample(before, 'sluice_jobs', { status: 'SUBMITTED' }), 0);
  assert.equal(sample(before, 'sluice_job_store_up'), 1);
  assert.equal(sample(before, 'sluice_local_workers'), 0);
  assert.equal(sample(before, 'sluice_job_processing_seconds_count', { status: 'COMPLETE' }), undefined);
  assert.ok((sample(before, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'the default process metrics');

  const source = path.join(dataDir, 'buckets', 'source');
  await fs.copyFile(await clip({ width: 320, height: 180, seconds: 2 }), path.join(source, 'talk.mp4'));

  // While it runs: a running job in the store, on the local pool, and a worker of this server.
  const during = await waitFor(
    'a scrape showing the job running',
    async () => {
      const m = await scrape();
      return sample(m, 'sluice_jobs_running', { pipeline: 'default', pool: 'local' }) === 1 &&
        sample(m, 'sluice_local_workers') === 1
        ? m
        : null;
    },
    60_000,
  );
  assert.equal(sample(during, 'sluice_jobs', { status: 'PROGRESSING' }), 1);

  // A file that is not media fails at its first attempt (INPUT_* is never retried).
  await fs.writeFile(path.join(source, 'noise.mp4'), 'this is not a video');
  const after = await waitFor(
    'both jobs to end',
    async () => {
      const m = await scrape();
      return sample(m, 'sluice_jobs', { status: 'COMPLETE' }) === 1 &&
        sample(m, 'sluice_jobs', { status: 'ERROR' }) === 1
        ? m
        : null;
    },
    120_000,
  );
  assert.equal(sample(after, 'sluice_jobs', { status: 'PROGRESSING' }), 0);
  assert.equal(sample(after, 'sluice_queue_depth', { pipeline: 'default' }), undefined, 'nothing queued');
  assert.equal(
    sample(after, 'sluice_job_processing_seconds_count', { pipeline: 'default', status: 'COMPLETE' }),
    1,
  );
  assert.equal(
    sample(after, 'sluice_job_processing_seconds_count', { pipeline: 'default', status: 'ERROR' }),
    1,
  );
  assert.ok((sample(after, 'sluice_job_processing_seconds_sum', { status: 'COMPLETE' }) ?? 0) > 0);
  assert.equal(sample(after, 'sluice_job_wait_seconds_count', { pipeline: 'default', pool: 'local' }), 2);
  assert.equal(sample(after, 'sluice_encode_speed_count', { pipeline: 'default' }), 1);
  assert.ok((sample(after, 'sluice_encode_speed_sum', { pipeline: 'default' }) ?? 0) > 0, 'a real speed');
  const failures = after.split('\n').filter((l) => l.startsWith('sluice_job_failures_total{'));
  assert.equal(failures.length, 1, failures.join('\n'));
  assert.match(failures[0] ?? '', /code="INPUT_[A-Z_]+",outcome="error"\} 1$/);
  assert.ok((sample(after, 'sluice_job_transitions_total', { transition: 'heartbeat' }) ?? 0) >= 1);
  assert.equal(sample(after, 'sluice_job_transitions_total', { transition: 'complete' }), 1);
  await waitFor('the worker to exit', async () => sample(await scrape(), 'sluice_local_workers') === 0);

  // The notification dispatcher's hook counts by sink and outcome, with a duration histogram.
  service.metrics.observeDelivery('webhook:ops', 'delivered', 42);
  service.metrics.observeDelivery('webhook:ops', 'retrying');
  const notified = await scrape();
  assert.equal(
    sample(notified, 'sluice_notification_deliveries_total', { sink: 'webhook:ops', outcome: 'delivered' }),
    1,
  );
  assert.equal(
    sample(notified, 'sluice_notification_deliveries_total', { sink: 'webhook:ops', outcome: 'retrying' }),
    1,
  );
  assert.equal(
    sample(notified, 'sluice_notification_delivery_seconds_count', {
      sink: 'webhook:ops',
      outcome: 'delivered',
    }),
    1,
  );
});
