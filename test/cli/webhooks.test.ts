// `sluice webhooks add|list|test|rotate|deliveries|redeliver|disable|enable|remove` end to end: the real CLI
// process against the API listening on loopback (real Fastify, real SQLite), a real receiver for pings.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { toCloudEvent } from '../../src/notify/cloud-event.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { buildTestApi } from '../api/test-api.ts';
import { WebhookReceiver } from '../webhook-receiver.ts';

const run = promisify(execFile);
const SLUICE = path.resolve('bin/sluice.js');

async function sluice(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE, ...args], {
      timeout: 30_000,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', NO_COLOR: '1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('sluice webhooks: add, list, test, rotate, deliveries, redeliver, disable, enable, remove', async (t) => {
  const apiToken = 'test-api-token-0123456789';
  const { app, store, webhookSink } = await buildTestApi(t, { apiToken, webhookAllowPrivate: true });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const receiver = new WebhookReceiver();
  const port = await receiver.listen();
  t.after(() => receiver.close());
  const hook = `http://127.0.0.1:${port}/hook`;
  const cli = (...args: string[]) =>
    sluice({ SLUICE_API_TOKEN: apiToken }, '--server', url, 'webhooks', ...args);

  const added = await cli(
    'add',
    hook,
    '--event',
    'sluice.job.complete',
    '--event',
    'sluice.job.submitted',
    '--match',
    'application=shop',
    '--match',
    'tier=gold=plus',
    '--description',
    'the shop',
  );
  assert.equal(added.code, 0, added.stderr);
  const [idLine = '', secretLine = ''] = added.stdout.trim().split('\n');
  const id = idLine.split(/\s+/)[0] ?? '';
  assert.match(id, /^wh_/);
  assert.match(secretLine, /^secret whsec_/);
  const secret = secretLine.slice('secret '.length);
  assert.match(added.stderr, /shown only now/);
  const stored = await store.webhooks.getWebhook(id);
  assert.deepEqual(stored?.eventTypes, ['sluice.job.complete', 'sluice.job.submitted']);
  assert.deepEqual(stored?.match, { application: 'shop', tier: 'gold=plus' }, 'split at the first =');
  assert.equal(stored?.secret, secret);

  const badMatch = await cli('add', hook, '--match', 'nokey');
  assert.equal(badMatch.code, 1);
  assert.match(badMatch.stderr, /WEBHOOK_INVALID: --match nokey/);
  const table = await cli('list');
  assert.equal(table.code, 0, table.stderr);
  assert.match(
    table.stdout,
    new RegExp(`${id}.*${hook.replace(/[.]/g, '\\.')}.*job\\.complete.*application=shop`),
  );
  assert.match(table.stdout, /enabled/);
  assert.ok(!table.stdout.includes(secret.slice(6)), 'list never shows a secret');
  const listed = JSON.parse((await cli('list', '--json')).stdout) as { id: string; description: string }[];
  assert.equal(listed[0]?.id, id);
  assert.equal(listed[0]?.description, 'the shop');

  const ping = await cli('test', id);
  assert.equal(ping.code, 0, ping.stderr);
  assert.match(ping.stdout, new RegExp(`${id}\\s+delivered: HTTP 204 in \\d+ ms`));
  const [sent] = receiver.requests;
  assert.ok(sent);
  new Webhook(secret).verify(sent.body, sent.headers);
  receiver.answer = () => ({ status: 404 });
  const failing = await cli('test', id);
  assert.equal(failing.code, 1, 'a failed ping fails the command');
  assert.match(failing.stdout, /not delivered: HTTP 404/);
  receiver.answer = () => ({ status: 204 });

  const rotated = await cli('rotate', id, '--overlap', '3600');
  assert.equal(rotated.code, 0, rotated.stderr);
  const next = rotated.stdout.trim().replace(/^secret /, '');
  assert.match(next, /^whsec_/);
  assert.notEqual(next, secret);
  assert.match(rotated.stderr, /previous one also signs until \d{4}-/);

  // A delivery in the log (the outbox's fan-out and one attempt, as in test/api/webhooks.test.ts).
  const { job } = await store.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'a.mp4', size: 1, etag: 'e' },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'destination', prefix: 'a' },
      userMetadata: { application: 'shop', tier: 'gold=plus' },
      idempotencyKey: 'k-a',
    },
    new Date(),
  );
  const [logged] = await store.eventsAfter(null, 10, { jobId: job.id });
  assert.ok(logged);
  const ce = toCloudEvent(logged);
  assert.ok(ce);
  assert.deepEqual(await webhookSink.targets(ce), [id]);
  await store.deliveries.enqueueDeliveries(
    'test',
    logged.id,
    [{ sink: 'webhook', target: id, eventId: logged.id, jobId: job.id, event: ce }],
    new Date(),
  );
  const [d] = await store.deliveries.claimDueDeliveries(new Date(), 10, 30_000);
  assert.ok(d);
  const o = await webhookSink.deliver(d);
  assert.ok(o.ok);
  await store.deliveries.recordDeliveryAttempt(
    {
      deliveryId: d.id,
      attempt: 1,
      at: new Date().toISOString(),
      durationMs: 3,
      ok: true,
      statusCode: 204,
      error: null,
    },
    { status: 'DELIVERED' },
    new Date(),
  );
  const deliveries = await cli('deliveries', id);
  assert.equal(deliveries.code, 0, deliveries.stderr);
  assert.match(deliveries.stdout, new RegExp(`${d.id}.*job\\.submitted.*${job.id}.*DELIVERED.*1.*HTTP 204`));
  assert.match((await cli('deliveries', id, '--status', 'failed')).stdout, /no deliveries/);
  const byJob = JSON.parse((await cli('deliveries', id, '--job', job.id, '--json')).stdout) as {
    id: string;
  }[];
  assert.deepEqual(
    byJob.map((x) => x.id),
    [d.id],
  );

  const again = await cli('redeliver', d.id);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`${d.id}\\s+PENDING: redelivery of ${ce.id} to ${id} queued`));
  assert.equal((await store.deliveries.getDelivery(d.id))?.status, 'PENDING');

  const disabled = await cli('disable', id, '--reason', 'maintenance');
  assert.match(disabled.stdout, new RegExp(`${id}\\s+disabled: maintenance`));
  assert.match((await cli('list')).stdout, /disabled: maintenance/);
  assert.equal((await store.deliveries.getDelivery(d.id))?.status, 'DISCARDED');
  assert.match((await cli('redeliver', d.id)).stderr, /WEBHOOK_DISABLED/);
  assert.match((await cli('enable', id)).stdout, new RegExp(`${id}\\s+enabled`));

  const removed = await cli('remove', id);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`${id}\\s+removed \\(0 pending deliveries discarded\\)`));
  assert.match((await cli('list')).stdout, /no webhook subscriptions/);
  const gone = await cli('remove', id);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /WEBHOOK_NOT_FOUND/);
});
