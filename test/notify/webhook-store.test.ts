// Webhook subscriptions at rest (kysely-webhooks.ts) on both job stores: SQLite in a temp file and the
// machine's PostgreSQL in a schema of its own. The same cases run on each.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { SqliteJobStore } from '../../src/jobs/sqlite-job-store.ts';
import { newWebhookId, newWebhookSecret, type WebhookStore } from '../../src/notify/webhook-subscriptions.ts';
import { tempDir } from '../helpers.ts';
import { freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

type T = Parameters<typeof tempDir>[0];

const stores: Record<string, (t: T) => Promise<WebhookStore>> = {
  async sqlite(t) {
    const s = new SqliteJobStore(path.join(await tempDir(t), 'sluice.db'));
    t.after(() => s.close());
    await s.migrate();
    return s.webhooks;
  },
  async postgres(t) {
    let s: PostgresJobStore | null = null;
    const schema = freshSchema(t, async () => s?.close());
    s = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 2 });
    await s.migrate();
    return s.webhooks;
  },
};

before(requirePostgres);

const T0 = new Date('2026-03-01T10:00:00.000Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);

for (const [kind, open] of Object.entries(stores)) {
  test(`${kind}: subscriptions are kept, listed oldest first, filtered by enabled, updated and removed`, async (t) => {
    const w = await open(t);
    const a = await w.createWebhook(
      {
        id: newWebhookId(),
        url: 'https://a.example/',
        description: "it's a test",
        eventTypes: ['sluice.job.complete'],
        match: { application: 'shop', é: 'ü' },
        secret: newWebhookSecret(),
      },
      T0,
    );
    const b = await w.createWebhook(
      {
        id: newWebhookId(),
        url: 'https://b.example/',
        description: null,
        eventTypes: [],
        match: {},
        secret: newWebhookSecret(),
      },
      later(1),
    );
    assert.deepEqual(await w.getWebhook(a.id), a, 'read back as made');
    assert.equal(a.enabled, true);
    assert.deepEqual(
      (await w.listWebhooks()).map((x) => x.id),
      [a.id, b.id],
    );

    const off = await w.updateWebhook(
      b.id,
      { enabled: false, disabledReason: 'the receiver answered 410 Gone' },
      later(2),
    );
    assert.equal(off?.enabled, false);
    assert.equal(off?.disabledReason, 'the receiver answered 410 Gone');
    assert.equal(off?.disabledAt, later(2).toISOString());
    // Disabled again (a user, later): the first reason and time stay.
    const again = await w.updateWebhook(b.id, { enabled: false, disabledReason: 'by hand' }, later(3));
    assert.equal(again?.disabledReason, 'the receiver answered 410 Gone');
    assert.equal(again?.disabledAt, later(2).toISOString());
    assert.equal(again?.updatedAt, later(3).toISOString());
    assert.deepEqual(
      (await w.listWebhooks({ enabled: true })).map((x) => x.id),
      [a.id],
    );
    assert.deepEqual(
      (await w.listWebhooks({ enabled: false })).map((x) => x.id),
      [b.id],
    );
    const on = await w.updateWebhook(
      b.id,
      { enabled: true, url: 'https://b2.example/', match: { x: '1' } },
      later(4),
    );
    assert.deepEqual(
      [on?.enabled, on?.disabledReason, on?.disabledAt, on?.url, on?.match],
      [true, null, null, 'https://b2.example/', { x: '1' }],
    );
    const patched = await w.updateWebhook(a.id, { description: null, eventTypes: [] }, later(5));
    assert.equal(patched?.description, null);
    assert.deepEqual(patched?.eventTypes, []);
    assert.deepEqual(patched?.match, a.match, 'what the patch did not name is kept');
    assert.equal(await w.updateWebhook('wh_none', { enabled: true }, later(5)), null);

    assert.equal(await w.deleteWebhook(a.id), true);
    assert.equal(await w.deleteWebhook(a.id), false);
    assert.equal(await w.getWebhook(a.id), null);
  });

  test(`${kind}: a rotation keeps the secret before it, until its expiry; the next rotation drops the oldest`, async (t) => {
    const w = await open(t);
    const first = newWebhookSecret();
    const made = await w.createWebhook(
      {
        id: newWebhookId(),
        url: 'https://a.example/',
        description: null,
        eventTypes: [],
        match: {},
        secret: first,
      },
      T0,
    );
    const second = newWebhookSecret();
    const r1 = await w.rotateWebhookSecret(made.id, second, later(86_400), later(10));
    assert.deepEqual(
      [r1?.secret, r1?.previousSecret, r1?.previousSecretExpiresAt],
      [second, first, later(86_400).toISOString()],
    );
    const third = newWebhookSecret();
    const r2 = await w.rotateWebhookSecret(made.id, third, later(100), later(20));
    assert.deepEqual([r2?.secret, r2?.previousSecret], [third, second]);
    assert.equal(await w.rotateWebhookSecret('wh_none', third, later(1), later(1)), null);
  });
}
