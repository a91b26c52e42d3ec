// POST /v1/ingest/events: object-store notifications (S3 and MinIO webhooks, SNS, CloudEvents, OCI
// Events; docs/ingest-events.md). A sender retries what is not answered 2xx, so the answer is 200 with
// a summary once every reference is recorded (or refused for good), and 5xx when something retryable
// failed: the redelivery finds what was done and does the rest.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { EventIntake } from '../ingest/event-intake.ts';
import { type Headers, readDelivery, readSnsMessage } from '../ingest/notifications/read-notification.ts';
import type { SnsMessage, SnsVerifier } from '../ingest/notifications/sns.ts';
import { SIGNATURE_HEADER, verifyDelivery } from './ingest-signature.ts';

export const INGEST_EVENTS_ROUTE = '/v1/ingest/events';
/** SNS messages are at most 256 KiB; S3 and CloudEvents batches far smaller. */
export const MAX_EVENT_BYTES = 1 << 20;

export interface IngestEventDeps {
  intake: EventIntake;
  sns: SnsVerifier;
  /** SLUICE_INGEST_TOKEN: `Authorization: Bearer <token>` (MinIO's auth_token), or as Basic's password. */
  ingestToken?: string | null;
  /** SLUICE_INGEST_HMAC_SECRET: X-Sluice-Signature (ingest-signature.ts). */
  hmacSecret?: string | null;
  /** The API's own token, accepted as a bearer token too. */
  apiToken?: string | null;
  /** SNS topics whose messages are taken; `*` any. None: SNS deliveries are refused. */
  snsTopics?: string[];
  log: Logger;
  now?: () => number;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The secret an Authorization header carries: a bearer token, or Basic's password (OCI, SNS URLs). */
function presented(header: string | undefined): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (bearer) return bearer;
  const basic = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export function registerIngestEventRoutes(app: FastifyInstance, deps: IngestEventDeps): void {
  const tokens = [deps.ingestToken, deps.apiToken].filter((t): t is string => !!t);
  const open = tokens.length === 0 && !deps.hmacSecret;
  const now = deps.now ?? Date.now;

  const authenticate = (headers: Headers, body: Buffer) => {
    const signature = headers[SIGNATURE_HEADER];
    if (typeof signature === 'string' && deps.hmacSecret) {
      verifyDelivery(deps.hmacSecret, signature, body, now());
      return;
    }
    const given = presented(typeof headers.authorization === 'string' ? headers.authorization : undefined);
    if (given !== null && tokens.some((t) => same(given, t))) return;
    if (open) return;
    throw new SluiceError(
      'INGEST_UNAUTHORIZED',
      `${INGEST_EVENTS_ROUTE} needs "Authorization: Bearer <SLUICE_INGEST_TOKEN>"${deps.hmacSecret ? `, or ${SIGNATURE_HEADER} signed with SLUICE_INGEST_HMAC_SECRET` : ''}; SNS deliveries authenticate by their signature`,
    );
  };

  const sns = async (m: SnsMessage) => {
    await deps.sns.verify(m);
    const topics = deps.snsTopics ?? [];
    if (!topics.includes('*') && !topics.includes(m.TopicArn)) {
      throw new SluiceError(
        'SNS_TOPIC_NOT_ALLOWED',
        `SNS topic ${m.TopicArn} is not in SLUICE_INGEST_SNS_TOPIC_ARNS; add it there to take its notifications`,
      );
    }
    if (m.Type === 'SubscriptionConfirmation') {
      await deps.sns.confirm(m);
      deps.log.info({ topic: m.TopicArn }, 'SNS subscription confirmed');
      return { confirmed: true };
    }
    if (m.Type === 'UnsubscribeConfirmation') {
      deps.log.warn(
        { topic: m.TopicArn },
        'SNS subscription ended (UnsubscribeConfirmation); no more events from it',
      );
      return { unsubscribed: true };
    }
    return null;
  };

  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Every body raw: the HMAC is over its bytes, and SNS posts its JSON as text/plain.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_EVENT_BYTES }, (_req, body, done) =>
      done(null, body),
    );
    scope.post(INGEST_EVENTS_ROUTE, { bodyLimit: MAX_EVENT_BYTES }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = req.headers as Headers;
      const snsType = headers['x-amz-sns-message-type'];
      if (typeof snsType !== 'string') authenticate(headers, body);
      // OCI Notifications asks an HTTPS subscription to be confirmed first: the operator opens the URL.
      const ociConfirm = headers['x-oci-ns-confirmationurl'];
      if (typeof ociConfirm === 'string') {
        deps.log.warn(
          { confirmationUrl: ociConfirm },
          'OCI Notifications subscription: open this URL to confirm it',
        );
        return reply.code(200).send({ confirmationRequired: true });
      }
      const delivery = readDelivery(headers, body);
      let notification: ReturnType<typeof readSnsMessage>;
      let source: string;
      if (delivery.kind === 'sns') {
        const done = await sns(delivery.message);
        if (done) return reply.code(200).send(done);
        notification = readSnsMessage(delivery.message);
        source = `sns:${delivery.message.TopicArn}`;
      } else {
        notification = delivery.notification;
        source = `sluice://ingest/events/${notification.format}`;
      }
      const summary = await deps.intake.take(notification, source);
      const first = summary.refused[0];
      if (first && summary.refused.length === summary.received && summary.received > 0) {
        // Nothing taken, and sending it again will not help: a 4xx with the first reason.
        throw new SluiceError(first.code, first.message);
      }
      return reply.code(200).send({ format: notification.format, ...summary });
    });
  });
}
