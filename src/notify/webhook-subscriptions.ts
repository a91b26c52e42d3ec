// Webhook subscriptions (Standard Webhooks): where the webhook sink sends job events, which ones (event
// types, userMetadata fields), and the secrets it signs them with. Kept in the job store's database; both
// stores run kysely-webhooks.ts on the table below. The matching and secret rules here are pure.
import { randomBytes } from 'node:crypto';
import type { JobCloudEvent, NotificationType } from './cloud-event.ts';

export interface WebhookSubscription {
  /** `wh_…`: the delivery log's target for the webhook sink. */
  id: string;
  url: string;
  description: string | null;
  /** The event types sent; empty: every type (NOTIFICATION_TYPES, and types added later). */
  eventTypes: NotificationType[];
  /** userMetadata fields a job must have, each with exactly this value (all of them); empty: any job. */
  match: Record<string, string>;
  enabled: boolean;
  /** Why it is disabled (a user's PATCH, or the receiver answering 410 Gone), and since when. */
  disabledReason: string | null;
  disabledAt: string | null;
  /** `whsec_<base64>`: signs every delivery. Kept as is (a signature needs it), in the owner-only database. */
  secret: string;
  /** The secret before the last rotation, still signing (a second signature) until it expires. */
  previousSecret: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewWebhook {
  id: string;
  url: string;
  description: string | null;
  eventTypes: NotificationType[];
  match: Record<string, string>;
  secret: string;
}

/** What PATCH /v1/webhooks/:id may change; an absent field stays as it is. */
export interface WebhookPatch {
  url?: string;
  description?: string | null;
  eventTypes?: NotificationType[];
  match?: Record<string, string>;
  /** False disables with `disabledReason`; true enables again and clears the reason. */
  enabled?: boolean;
  disabledReason?: string;
}

export interface WebhookStore {
  createWebhook(w: NewWebhook, now: Date): Promise<WebhookSubscription>;
  /** Oldest first; `enabled` picks the enabled (or the disabled) ones only. */
  listWebhooks(o?: { enabled?: boolean }): Promise<WebhookSubscription[]>;
  getWebhook(id: string): Promise<WebhookSubscription | null>;
  updateWebhook(id: string, patch: WebhookPatch, now: Date): Promise<WebhookSubscription | null>;
  /** A new current secret; the current one becomes the previous one until `previousExpiresAt`. */
  rotateWebhookSecret(
    id: string,
    secret: string,
    previousExpiresAt: Date,
    now: Date,
  ): Promise<WebhookSubscription | null>;
  deleteWebhook(id: string): Promise<boolean>;
}

export interface WebhookSubscriptionsTable {
  id: string;
  url: string;
  description: string | null;
  /** JSON array of types. */
  event_types: string;
  /** JSON object of userMetadata field -> value. */
  match_metadata: string;
  /** 1 or 0, in both databases. */
  enabled: number;
  disabled_reason: string | null;
  disabled_at: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

const table = (collate: string): string =>
  `CREATE TABLE IF NOT EXISTS webhook_subscriptions (
     id TEXT${collate} PRIMARY KEY,
     url TEXT NOT NULL,
     description TEXT,
     event_types TEXT NOT NULL,
     match_metadata TEXT NOT NULL,
     enabled INTEGER NOT NULL,
     disabled_reason TEXT,
     disabled_at TEXT${collate},
     secret TEXT NOT NULL,
     previous_secret TEXT,
     previous_secret_expires_at TEXT${collate},
     created_at TEXT${collate} NOT NULL,
     updated_at TEXT${collate} NOT NULL
   )`;

export const WEBHOOK_TABLE_SQLITE = table('');
export const WEBHOOK_TABLE_POSTGRES = table(' COLLATE "C"');

export function webhookFromRow(r: WebhookSubscriptionsTable): WebhookSubscription {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: JSON.parse(r.event_types) as NotificationType[],
    match: JSON.parse(r.match_metadata) as Record<string, string>,
    enabled: Number(r.enabled) === 1,
    disabledReason: r.disabled_reason,
    disabledAt: r.disabled_at,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretExpiresAt: r.previous_secret_expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function newWebhookId(): string {
  return `wh_${randomBytes(9).toString('base64url')}`;
}

/** Standard Webhooks' secret form: `whsec_` and the base64 of the HMAC key (24 random bytes, as Svix makes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** A secret a user brings: `whsec_` and standard base64 of 24 to 64 bytes. */
export const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

export function isWebhookSecret(s: string): boolean {
  if (!WEBHOOK_SECRET.test(s)) return false;
  const key = Buffer.from(s.slice('whsec_'.length), 'base64');
  return key.length >= 24 && key.length <= 64;
}

/** Does the subscription want this event? Its type is in the list (or the list is empty), and every match field. */
export function wantsEvent(
  w: Pick<WebhookSubscription, 'enabled' | 'eventTypes' | 'match'>,
  e: Pick<JobCloudEvent, 'type' | 'data'>,
): boolean {
  if (!w.enabled) return false;
  if (w.eventTypes.length > 0 && !w.eventTypes.includes(e.type)) return false;
  const metadata = e.data.job?.userMetadata ?? {};
  return Object.entries(w.match).every(([k, v]) => Object.hasOwn(metadata, k) && metadata[k] === v);
}

/** The secrets that sign at `now`: the current one, then the previous one while its overlap lasts. */
export function signingSecrets(
  w: Pick<WebhookSubscription, 'secret' | 'previousSecret' | 'previousSecretExpiresAt'>,
  now: Date,
): string[] {
  const previousLive =
    w.previousSecret !== null &&
    w.previousSecretExpiresAt !== null &&
    Date.parse(w.previousSecretExpiresAt) > now.getTime();
  return previousLive ? [w.secret, w.previousSecret as string] : [w.secret];
}

/** A subscription as the API shows it: never its secrets (those are shown once, on create and rotate). */
export function webhookView(w: WebhookSubscription, now = new Date()) {
  const { secret: _secret, previousSecret: _previous, ...rest } = w;
  return {
    ...rest,
    /** True while the previous secret still signs too (after a rotation). */
    previousSecretActive: signingSecrets(w, now).length > 1,
  };
}
export type WebhookView = ReturnType<typeof webhookView>;
