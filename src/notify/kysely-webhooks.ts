// Webhook subscriptions (webhook-subscriptions.ts) as both job stores keep them: Kysely speaks SQLite and
// PostgreSQL alike here, and the table is the same in both (booleans as 0/1, lists and maps as JSON).
import type { Kysely } from 'kysely';
import {
  type NewWebhook,
  type WebhookPatch,
  type WebhookStore,
  type WebhookSubscription,
  type WebhookSubscriptionsTable,
  webhookFromRow,
} from './webhook-subscriptions.ts';

export class KyselyWebhooks implements WebhookStore {
  constructor(private readonly db: Kysely<{ webhook_subscriptions: WebhookSubscriptionsTable }>) {}

  async createWebhook(w: NewWebhook, now: Date): Promise<WebhookSubscription> {
    const at = now.toISOString();
    const row: WebhookSubscriptionsTable = {
      id: w.id,
      url: w.url,
      description: w.description,
      event_types: JSON.stringify(w.eventTypes),
      match_metadata: JSON.stringify(w.match),
      enabled: 1,
      disabled_reason: null,
      disabled_at: null,
      secret: w.secret,
      previous_secret: null,
      previous_secret_expires_at: null,
      created_at: at,
      updated_at: at,
    };
    await this.db.insertInto('webhook_subscriptions').values(row).execute();
    return webhookFromRow(row);
  }

  async listWebhooks(o: { enabled?: boolean } = {}): Promise<WebhookSubscription[]> {
    let q = this.db.selectFrom('webhook_subscriptions').selectAll();
    if (o.enabled !== undefined) q = q.where('enabled', '=', o.enabled ? 1 : 0);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map(webhookFromRow);
  }

  async getWebhook(id: string): Promise<WebhookSubscription | null> {
    const row = await this.db
      .selectFrom('webhook_subscriptions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? webhookFromRow(row) : null;
  }

  async updateWebhook(id: string, p: WebhookPatch, now: Date): Promise<WebhookSubscription | null> {
    const at = now.toISOString();
    const set: Partial<WebhookSubscriptionsTable> = { updated_at: at };
    if (p.url !== undefined) set.url = p.url;
    if (p.description !== undefined) set.description = p.description;
    if (p.eventTypes !== undefined) set.event_types = JSON.stringify(p.eventTypes);
    if (p.match !== undefined) set.match_metadata = JSON.stringify(p.match);
    if (p.enabled === true) Object.assign(set, { enabled: 1, disabled_reason: null, disabled_at: null });
    let q = this.db.updateTable('webhook_subscriptions').set(set).where('id', '=', id);
    if (p.enabled === false) {
      // Disabling an already disabled subscription keeps its first reason and time (a 410 stays the reason).
      await this.db
        .updateTable('webhook_subscriptions')
        .set({ enabled: 0, disabled_reason: p.disabledReason ?? 'disabled', disabled_at: at })
        .where('id', '=', id)
        .where('enabled', '=', 1)
        .execute();
      q = q.set({ enabled: 0 });
    }
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return null;
    return this.getWebhook(id);
  }

  async rotateWebhookSecret(
    id: string,
    secret: string,
    previousExpiresAt: Date,
    now: Date,
  ): Promise<WebhookSubscription | null> {
    const current = await this.getWebhook(id);
    if (!current) return null;
    // Only the secret before this one keeps signing: two rotations in a row end the oldest at once.
    const r = await this.db
      .updateTable('webhook_subscriptions')
      .set({
        secret,
        previous_secret: current.secret,
        previous_secret_expires_at: previousExpiresAt.toISOString(),
        updated_at: now.toISOString(),
      })
      .where('id', '=', id)
      .where('secret', '=', current.secret)
      .executeTakeFirst();
    // A rotation racing this one won: rotate again on what it left.
    if (Number(r.numUpdatedRows) === 0) return this.rotateWebhookSecret(id, secret, previousExpiresAt, now);
    return this.getWebhook(id);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('webhook_subscriptions').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
