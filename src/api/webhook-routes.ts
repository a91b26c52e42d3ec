// Webhook subscriptions and their delivery log (docs/notifications.md#webhooks), behind the API token like
// the rest of the API:
//   POST   /v1/webhooks                     make one (its secret is in this answer only)
//   GET    /v1/webhooks, /v1/webhooks/:id   never the secrets
//   PATCH  /v1/webhooks/:id                 url, description, event types, match, enabled
//   POST   /v1/webhooks/:id/rotate-secret   a new secret (in this answer only); the old one keeps signing
//                                           too for `overlapSeconds` (default 24 h)
//   DELETE /v1/webhooks/:id                 its pending deliveries are discarded
//   POST   /v1/webhooks/:id/test            a `sluice.webhook.test` ping, sent now; its outcome is the answer
//   GET    /v1/webhooks/:id/deliveries      its delivery log (?status=&jobId=&limit=), with each attempt
//   GET    /v1/jobs/:id/deliveries          a job's deliveries, every sink's
//   GET    /v1/deliveries/:id               one delivery, with the event as sent and its attempts
//   POST   /v1/deliveries/:id/redeliver     send it again (same webhook-id), due now
// The zod schemas are exported for the OpenAPI document.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { NOTIFICATION_TYPES } from '../notify/cloud-event.ts';
import type { DeliveryStore } from '../notify/delivery-store.ts';
import { DELIVERY_STATUSES, type Delivery, type DeliveryAttempt } from '../notify/sink.ts';
import { WEBHOOK_SINK, type WebhookSink } from '../notify/webhook-sink.ts';
import {
  isWebhookSecret,
  newWebhookId,
  newWebhookSecret,
  type WebhookStore,
  type WebhookSubscription,
  webhookView,
} from '../notify/webhook-subscriptions.ts';
import { checkWebhookTarget } from '../notify/webhook-target.ts';
import { parseBody } from './validate.ts';

/** How long the secret before a rotation keeps signing, unless the rotation says otherwise. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 3600;
const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

export const WebhookEventType = z.enum(NOTIFICATION_TYPES, {
  error: `unknown event type; use one of ${NOTIFICATION_TYPES.join(', ')}`,
});
const Url = z.string().min(1).max(2048);
const Description = z.string().max(500);
const EventTypes = z
  .array(WebhookEventType)
  .max(NOTIFICATION_TYPES.length)
  .describe('event types sent; empty or absent: every type');
const Match = z
  .record(z.string().min(1).max(128), z.string().max(1024))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 fields')
  .describe('userMetadata fields a job must have with exactly these values (all of them); empty: any job');
const Secret = z.string().describe('`whsec_` and the base64 of 24 to 64 random bytes; absent: one is made');

export const CreateWebhookBody = z.strictObject({
  url: Url,
  description: Description.optional(),
  eventTypes: EventTypes.optional(),
  match: Match.optional(),
  secret: Secret.optional(),
});

export const UpdateWebhookBody = z.strictObject({
  url: Url.optional(),
  description: Description.nullable().optional(),
  eventTypes: EventTypes.optional(),
  match: Match.optional(),
  enabled: z.boolean().optional(),
  /** Why, when disabling (shown in the subscription). */
  reason: z.string().min(1).max(500).optional(),
});

export const RotateSecretBody = z.strictObject({
  overlapSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_SECRET_OVERLAP_SECONDS)
    .optional()
    .describe('how long the previous secret keeps signing too (default 86400)'),
  secret: Secret.optional(),
});

export const DeliveriesQuery = z.strictObject({
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(DELIVERY_STATUSES, { error: `use one of ${DELIVERY_STATUSES.join(', ')}` }))
    .optional(),
  jobId: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export interface WebhookRouteDeps {
  webhooks: WebhookStore;
  deliveries: DeliveryStore;
  /** Sends test pings. */
  sink: WebhookSink;
  /** SLUICE_WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** The job of an id or unique id prefix (GET /v1/jobs/:id/deliveries); JOB_NOT_FOUND otherwise. */
  getJob: (idOrPrefix: string) => Promise<{ id: string }>;
  /** Wakes the outbox after a redelivery (it may be asleep until the next delivery due). */
  onRedeliver?: () => void;
}

/** A delivery as the log shows it: the event by id and type (its body at GET /v1/deliveries/:id). */
export function deliveryView(d: Delivery, attempts: DeliveryAttempt[]) {
  return {
    id: d.id,
    sink: d.sink,
    target: d.target,
    eventId: d.event.id,
    eventType: d.event.type,
    seq: d.eventId,
    jobId: d.jobId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'PENDING' ? d.nextAttemptAt : null,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    deliveredAt: d.deliveredAt,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    attemptLog: attempts.map(({ deliveryId: _, ...a }) => a),
  };
}
export type DeliveryView = ReturnType<typeof deliveryView>;

/** Webhook bodies fail as WEBHOOK_INVALID (with the field named), not as a generic request error. */
function parseWebhookBody<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  try {
    return parseBody(schema, value);
  } catch (err) {
    if (err instanceof SluiceError) throw new SluiceError('WEBHOOK_INVALID', err.message);
    throw err;
  }
}

function secretOrNew(given: string | undefined): string {
  if (given === undefined) return newWebhookSecret();
  if (!isWebhookSecret(given)) {
    throw new SluiceError(
      'WEBHOOK_INVALID',
      'secret: give `whsec_` and the standard base64 of 24 to 64 random bytes, or leave it out and one is made',
    );
  }
  return given;
}

export function registerWebhookRoutes(app: FastifyInstance, deps: WebhookRouteDeps): void {
  const { webhooks, deliveries } = deps;
  const find = async (id: string): Promise<WebhookSubscription> => {
    const w = await webhooks.getWebhook(id);
    if (!w) {
      throw new SluiceError(
        'WEBHOOK_NOT_FOUND',
        `no webhook subscription ${id}; \`sluice webhooks list\` shows them`,
      );
    }
    return w;
  };
  const withAttempts = async (list: Delivery[]) =>
    Promise.all(list.map(async (d) => deliveryView(d, await deliveries.deliveryAttempts(d.id))));

  app.post('/v1/webhooks', async (req, reply) => {
    const body = parseWebhookBody(CreateWebhookBody, req.body);
    const url = await checkWebhookTarget(body.url, deps.allowPrivate);
    const made = await webhooks.createWebhook(
      {
        id: newWebhookId(),
        url: url.href,
        description: body.description ?? null,
        eventTypes: [...new Set(body.eventTypes ?? [])],
        match: body.match ?? {},
        secret: secretOrNew(body.secret),
      },
      new Date(),
    );
    req.log.info({ webhook: made.id, url: url.origin }, 'webhook subscription created');
    return reply.code(201).send({ ...webhookView(made), secret: made.secret });
  });

  app.get('/v1/webhooks', async () => ({
    webhooks: (await webhooks.listWebhooks()).map((w) => webhookView(w)),
  }));

  app.get<{ Params: { id: string } }>('/v1/webhooks/:id', async (req) =>
    webhookView(await find(req.params.id)),
  );

  app.patch<{ Params: { id: string } }>('/v1/webhooks/:id', async (req) => {
    const body = parseWebhookBody(UpdateWebhookBody, req.body);
    await find(req.params.id);
    const url =
      body.url === undefined ? undefined : (await checkWebhookTarget(body.url, deps.allowPrivate)).href;
    const now = new Date();
    const updated = await webhooks.updateWebhook(
      req.params.id,
      {
        ...(url !== undefined ? { url } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.eventTypes !== undefined ? { eventTypes: [...new Set(body.eventTypes)] } : {}),
        ...(body.match !== undefined ? { match: body.match } : {}),
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        ...(body.enabled === false ? { disabledReason: body.reason ?? 'disabled through the API' } : {}),
      },
      now,
    );
    if (!updated) return find(req.params.id);
    // A disabled subscription gets nothing more: what was waiting for it is discarded, not sent later.
    if (body.enabled === false) await deliveries.discardDeliveries(WEBHOOK_SINK, updated.id, now);
    req.log.info({ webhook: updated.id, enabled: updated.enabled }, 'webhook subscription updated');
    return webhookView(updated);
  });

  app.post<{ Params: { id: string } }>('/v1/webhooks/:id/rotate-secret', async (req) => {
    const body = parseWebhookBody(RotateSecretBody, req.body ?? {});
    await find(req.params.id);
    const now = new Date();
    const overlap = body.overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
    const rotated = await webhooks.rotateWebhookSecret(
      req.params.id,
      secretOrNew(body.secret),
      new Date(now.getTime() + overlap * 1000),
      now,
    );
    const w = rotated ?? (await find(req.params.id));
    req.log.info({ webhook: w.id, overlapSeconds: overlap }, 'webhook secret rotated');
    return { ...webhookView(w), secret: w.secret };
  });

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', async (req) => {
    const w = await find(req.params.id);
    await webhooks.deleteWebhook(w.id);
    const discarded = await deliveries.discardDeliveries(WEBHOOK_SINK, w.id, new Date());
    req.log.info({ webhook: w.id, discarded }, 'webhook subscription removed');
    return { id: w.id, deleted: true, discardedDeliveries: discarded };
  });

  app.post<{ Params: { id: string } }>('/v1/webhooks/:id/test', async (req) => {
    const w = await find(req.params.id);
    const o = await deps.sink.ping(w);
    return {
      webhook: w.id,
      eventId: o.id,
      ok: o.ok,
      statusCode: o.statusCode ?? null,
      error: o.ok ? null : o.error,
      durationMs: Math.round(o.durationMs),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/webhooks/:id/deliveries', async (req) => {
    const q = parseBody(DeliveriesQuery, req.query, 'query');
    const w = await find(req.params.id);
    const list = await deliveries.listDeliveries({
      sink: WEBHOOK_SINK,
      target: w.id,
      ...(q.status ? { status: q.status } : {}),
      ...(q.jobId ? { jobId: (await deps.getJob(q.jobId)).id } : {}),
      limit: q.limit,
    });
    return { deliveries: await withAttempts(list) };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/deliveries', async (req) => {
    const q = parseBody(DeliveriesQuery.omit({ jobId: true }), req.query, 'query');
    const job = await deps.getJob(req.params.id);
    const list = await deliveries.listDeliveries({
      jobId: job.id,
      ...(q.status ? { status: q.status } : {}),
      limit: q.limit,
    });
    return { deliveries: await withAttempts(list) };
  });

  const findDelivery = async (id: string) => {
    const d = await deliveries.getDelivery(id);
    if (!d) throw new SluiceError('DELIVERY_NOT_FOUND', `no delivery ${id}`);
    return d;
  };

  app.get<{ Params: { id: string } }>('/v1/deliveries/:id', async (req) => {
    const d = await findDelivery(req.params.id);
    return { ...deliveryView(d, await deliveries.deliveryAttempts(d.id)), event: d.event };
  });

  app.post<{ Params: { id: string } }>('/v1/deliveries/:id/redeliver', async (req, reply) => {
    const d = await findDelivery(req.params.id);
    if (d.sink === WEBHOOK_SINK) {
      const w = await webhooks.getWebhook(d.target);
      if (!w)
        throw new SluiceError(
          'WEBHOOK_NOT_FOUND',
          `delivery ${d.id}'s webhook subscription ${d.target} was removed`,
        );
      if (!w.enabled) {
        throw new SluiceError(
          'WEBHOOK_DISABLED',
          `webhook subscription ${w.id} is disabled (${w.disabledReason ?? 'disabled'}); enable it first (PATCH /v1/webhooks/${w.id} {"enabled": true})`,
        );
      }
    }
    const again = await deliveries.redeliver(d.id, new Date());
    if (!again) throw new SluiceError('DELIVERY_NOT_FOUND', `no delivery ${d.id}`);
    deps.onRedeliver?.();
    req.log.info({ delivery: d.id, sink: d.sink, target: d.target }, 'redelivery asked for');
    return reply.code(202).send(deliveryView(again, await deliveries.deliveryAttempts(again.id)));
  });
}
