// Issue 11's email must-show, through a real `sluice serve` (its own process, real ffmpeg on 1 s lavfi
// clips) and a real SMTP server on loopback: the configuration file's rule mails jobs whose
// userMetadata.application is `lms`; one such job COMPLETEs and one (a few random bytes named .mp4)
// ends in ERROR with a stable code, and both mails arrive with their summaries; a job of another
// application, finished before them, sends none (the outbox fans events out in log order, so once the
// later mails are in, its event was seen and matched no rule; the delivery table confirms it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, tempDir, waitFor } from '../helpers.ts';
import { type RealServer, startRealServer } from '../real-server.ts';
import { startSmtp } from '../smtp-server.ts';

const CONFIG = `
pipelines:
  - name: watched
    source: { bucket: source, prefix: watched/ }
    template: tiny
    destination: { bucket: destination }
notifications:
  email:
    - name: lms
      to: [ops@example.com, "Course Team <team@example.com>"]
      from: "Sluice <media@example.com>"
      application: lms
`;

async function submit(server: RealServer, key: string, application: string): Promise<JobView> {
  const res = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, template: 'tiny', userMetadata: { application, lesson: key } }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as JobView;
}

async function ended(server: RealServer, id: string): Promise<JobView> {
  return waitFor(
    `job ${id} to end`,
    async () => {
      const j = await server.api.getJob(id);
      return ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
    },
    120_000,
  );
}

test('email arrives for a COMPLETE and an ERROR job of the application; another application sends none', async (t) => {
  const smtp = await startSmtp(t);
  const sample = await clip({ width: 160, height: 90, seconds: 1, fps: 10 });
  const config = path.join(await tempDir(t), 'sluice.yaml');
  await fs.writeFile(config, CONFIG);
  const server = await startRealServer(t, {
    env: { SLUICE_CONFIG: config, SLUICE_SMTP_URL: smtp.url, SLUICE_SMTP_TIMEOUT_MS: '20000' },
    prepare: async (dataDir) => {
      // Outside the pipeline's prefix: jobs only through POST /v1/jobs, each with its userMetadata.
      const api = path.join(dataDir, 'buckets', 'source', 'api');
      await fs.mkdir(api, { recursive: true });
      await fs.copyFile(sample, path.join(api, 'lesson 1.mp4'));
      await fs.copyFile(sample, path.join(api, 'crm intro.mp4'));
      await fs.writeFile(path.join(api, 'broken.mp4'), randomBytes(64));
    },
  });

  const other = await ended(server, (await submit(server, 'api/crm intro.mp4', 'crm')).id);
  assert.equal(other.status, 'COMPLETE');
  const good = await ended(server, (await submit(server, 'api/lesson 1.mp4', 'lms')).id);
  assert.equal(good.status, 'COMPLETE', JSON.stringify(good.error));
  const bad = await ended(server, (await submit(server, 'api/broken.mp4', 'lms')).id);
  assert.equal(bad.status, 'ERROR');
  assert.equal(bad.error?.code, 'INPUT_UNREADABLE', bad.error?.message);

  await waitFor('two mails', async () => smtp.received.length >= 2, 60_000);
  const bySubject = new Map(smtp.received.map((m) => [m.parsed.subject ?? '', m]));
  const completeMail = bySubject.get(`[Sluice] COMPLETE lesson 1.mp4 (${good.id})`);
  const errorMail = bySubject.get(`[Sluice] ERROR broken.mp4 (${bad.id})`);
  assert.ok(completeMail, [...bySubject.keys()].join('\n'));
  assert.ok(errorMail, [...bySubject.keys()].join('\n'));
  for (const m of [completeMail, errorMail]) {
    assert.deepEqual(m.envelope.to.sort(), ['ops@example.com', 'team@example.com']);
    assert.equal(m.envelope.from, 'media@example.com');
    assert.match(m.parsed.messageId ?? '', /^<evt_[0-9a-z]+_\d+\.[0-9a-f]{12}@example\.com>$/);
  }

  const text = completeMail.parsed.text ?? '';
  assert.match(text, new RegExp(`Job ${good.id} is COMPLETE`));
  assert.match(text, /Input: +source\/api\/lesson 1\.mp4 \(\d/);
  assert.match(text, /Template: +tiny/);
  assert.match(text, /Pipeline: +api/);
  assert.match(text, /Attempts: +\d+ of \d+/);
  assert.match(text, /Duration: +(\d+\.\d s|\d+ min \d+ s) \(last attempt/);
  assert.match(text, /Wall time: +(\d+\.\d s|\d+ min \d+ s) since it was submitted/);
  assert.match(text, /application: lms/);
  const hls = good.outputs.find((o) => o.type === 'hls');
  const dash = good.outputs.find((o) => o.type === 'dash');
  assert.ok(hls && dash);
  const at = (key: string) => text.indexOf(`${hls.bucket}/${key}`);
  assert.ok(at(hls.key) > 0 && at(dash.key) > at(hls.key), 'HLS, then DASH, listed');
  assert.ok(
    good.outputs.every((o) => text.includes(`${o.bucket}/${o.key}`)),
    'every output listed',
  );
  assert.match(text, new RegExp(`${server.url.replaceAll('.', '\\.')}/v1/jobs/${good.id}`));

  const errText = errorMail.parsed.text ?? '';
  assert.match(errText, /Error: +INPUT_UNREADABLE/);
  assert.match(
    errText,
    new RegExp(`Message: +${bad.error?.message.slice(0, 30).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  );
  assert.match(errText, /What to do: the input is not a media file ffmpeg can read/);

  // The crm job's mail would have been due before these two: none came, and none is waiting. The
  // server's own delivery table (read beside it: SQLite in WAL mode) says so once both are recorded.
  const db = new Database(path.join(server.dataDir, 'sluice.db'), { readonly: true });
  t.after(() => db.close());
  const rows = await waitFor(
    'both email deliveries recorded as DELIVERED',
    async () => {
      const r = db
        .prepare("SELECT job_id, target, status FROM deliveries WHERE sink = 'email' ORDER BY job_id")
        .all() as { job_id: string; target: string; status: string }[];
      return r.length >= 2 && r.every((d) => d.status === 'DELIVERED') && r;
    },
    30_000,
  );
  assert.deepEqual(
    rows.map((d) => [d.job_id, d.target, d.status]),
    [
      [bad.id, 'lms', 'DELIVERED'],
      [good.id, 'lms', 'DELIVERED'],
    ].sort(),
  );
  assert.equal(smtp.received.length, 2, smtp.received.map((m) => m.parsed.subject).join('\n'));
  assert.ok(smtp.received.every((m) => !(m.parsed.text ?? '').includes(other.id)));
});
