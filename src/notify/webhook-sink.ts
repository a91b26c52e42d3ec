// The webhook sink (Standard Webhooks): each enabled subscription whose filters match an event is a target;
// an attempt POSTs the CloudEvent as JSON, signed with the subscription's secret (and, for a while after a
// rotation, with the previous one too). The outbox keeps the deliveries and retries them; this file
// decides who wants an event and what one attempt came to:
// - 2xx: delivered. Nothing else is: a 3xx is not followed, it is a failure.
// - 410 Gone: the receiver says it is gone for good; the subscription is disabled (disableTarget).
// - any other answer, no answer, a timeout: tried again later, as Svix and Stripe do (a 400 or 404 is as
//   often a receiver being redeployed as a permanent refusal); Retry-After, when sent, sets the wait.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { SluiceError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { DEFAULT_EVENT_SOURCE, type JobCloudEvent } from './cloud-event.ts';
import type { Delivery, DeliveryOutcome, Sink } from './sink.ts';
import { parseRetryAfter, postWebhook } from './webhook-post.ts';
import {
  signingSecrets,
  type WebhookStore,
  type WebhookSubscription,
  wantsEvent,
} from './webhook-subscriptions.ts';

export const WEBHOOK_SINK = 'webhook';
/** The type of the ping POST /v1/webhooks/:id/test sends (never a job event). */
export const WEBHOOK_TEST_TYPE = 'sluice.webhook.test';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Characters of a receiver's answer kept in the delivery log's error text. */
const ERROR_BODY_CHARS = 500;

export interface WebhookSinkOptions {
  store: WebhookStore;
  /** SLUICE_WEBHOOK_ALLOW_PRIVATE: private and loopback targets may be called (tests, closed networks). */
  allowPrivate: boolean;
  /** Each attempt's deadline, from connecting to the answer's status (SLUICE_WEBHOOK_TIMEOUT_MS). */
  timeoutMs?: number;
  log: Logger;
  /** The CloudEvent source of test pings (job events carry their own). */
  source?: string;
  now?: () => Date;
}

export type AttemptOutcome = DeliveryOutcome & { durationMs: number };

export class WebhookSink implements Sink {
  readonly name = WEBHOOK_SINK;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private readonly userAgent = `Sluice/${VERSION} (webhooks)`;

  constructor(private readonly o: WebhookSinkOptions) {
    this.timeoutMs = o.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    this.now = o.now ?? (() => new Date());
  }

  async targets(event: JobCloudEvent): Promise<string[]> {
    return (await this.targetsOf([event]))[0] ?? [];
  }

  /** One read of the enabled subscriptions for a whole fan-out batch. */
  async targetsOf(events: readonly JobCloudEvent[]): Promise<string[][]> {
    if (events.length === 0) return [];
    const enabled = await this.o.store.listWebhooks({ enabled: true });
    return events.map((event) => enabled.filter((w) => wantsEvent(w, event)).map((w) => w.id));
  }

  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    const w = await this.o.store.getWebhook(d.target);
    // Removed or disabled after the event was fanned out to it: nothing is sent any more.
    if (!w) return { ok: false, retry: false, error: `webhook subscription ${d.target} was removed` };
    if (!w.enabled) {
      return {
        ok: false,
        retry: false,
        error: `webhook subscription ${w.id} is disabled (${w.disabledReason ?? 'disabled'})`,
      };
    }
    // The stored event's own bytes: JSON.stringify of what was parsed from them is the same text.
    const { durationMs: _, ...outcome } = await this.attempt(w, d.event.id, JSON.stringify(d.event));
    return outcome;
  }

  async disableTarget(target: string, reason: string, now: Date): Promise<void> {
    const w = await this.o.store.updateWebhook(target, { enabled: false, disabledReason: reason }, now);
    if (w) this.o.log.warn({ webhook: target, url: w.url, reason }, 'webhook subscription disabled');
  }

  /** A ping (POST /v1/webhooks/:id/test): sent at once, signed like any delivery, and not kept. */
  async ping(w: WebhookSubscription): Promise<AttemptOutcome & { id: string; payload: string }> {
    const now = this.now();
    const id = `evt_test_${randomBytes(9).toString('base64url')}`;
    const payload = JSON.stringify({
      specversion: '1.0',
      id,
      source: this.o.source ?? DEFAULT_EVENT_SOURCE,
      type: WEBHOOK_TEST_TYPE,
      subject: `webhooks/${w.id}`,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      data: { webhook: w.id, message: 'a test event from Sluice: no job is behind it' },
    });
    return { id, payload, ...(await this.attempt(w, id, payload)) };
  }

  /** One signed POST; never throws. */
  async attempt(w: WebhookSubscription, msgId: string, payload: string): Promise<AttemptOutcome> {
    const now = this.now();
    const started = performance.now();
    const took = () => performance.now() - started;
    let headers: Record<string, string>;
    try {
      headers = this.headers(w, msgId, payload, now);
    } catch (err) {
      return { ok: false, retry: false, error: `cannot sign: ${(err as Error).message}`, durationMs: took() };
    }
    try {
      const answer = await postWebhook(w.url, payload, headers, {
        timeoutMs: this.timeoutMs,
        allowPrivate: this.o.allowPrivate,
      });
      const durationMs = took();
      const status = answer.statusCode;
      if (status >= 200 && status < 300) return { ok: true, statusCode: status, durationMs };
      const text = answer.body.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
      const error = `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}${text ? `: ${text}` : ''}`;
      if (status === 410) {
        return { ok: false, retry: false, disableTarget: true, statusCode: status, error, durationMs };
      }
      const retryAfterMs = parseRetryAfter(answer.retryAfter, this.now());
      return {
        ok: false,
        retry: true,
        statusCode: status,
        error,
        ...(retryAfterMs !== null ? { retryAfterMs } : {}),
        durationMs,
      };
    } catch (err) {
      // No answer: refused, reset, timed out, or an address the guard refused (checked again next time).
      const e = err instanceof SluiceError ? `${err.code}: ${err.message}` : (err as Error).message;
      return { ok: false, retry: true, error: e, durationMs: took() };
    }
  }

  /** Standard Webhooks' headers: the id receivers deduplicate on, the attempt's time, and one signature per live secret. */
  headers(w: WebhookSubscription, msgId: string, payload: string, now: Date): Record<string, string> {
    const signature = signingSecrets(w, now)
      .map((s) => new Webhook(s).sign(msgId, now, payload))
      .join(' ');
    return {
      'content-type': 'application/json',
      'user-agent': this.userAgent,
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    };
  }
}
