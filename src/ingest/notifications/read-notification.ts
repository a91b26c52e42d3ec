// Which format a delivery is, from its headers and body, and its references: the one entry point the
// HTTP route and the JetStream source share. SNS envelopes are returned unverified for the caller to
// verify (signature, topic) before their Message is read with readSnsMessage.

import { SluiceError } from '../../errors.ts';
import { isBinaryMode, isCloudEvent, parseBatch, parseBinary, parseStructured } from './cloudevents.ts';
import { isRecord, malformed, type Notification } from './object-reference.ts';
import { isOciEnvelope, ociReference } from './oci-event.ts';
import { isS3Notification, parseS3Notification } from './s3-event.ts';
import { parseSnsEnvelope, type SnsMessage } from './sns.ts';

export type Headers = Record<string, string | string[] | undefined>;

export type Delivery = { kind: 'events'; notification: Notification } | { kind: 'sns'; message: SnsMessage };

function json(body: Buffer): unknown {
  if (body.length === 0) throw malformed('the body is empty; an event notification is JSON');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw malformed(`the body is not JSON: ${(err as Error).message}`);
  }
}

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return typeof v === 'string' ? v : undefined;
}

export function readDelivery(headers: Headers, body: Buffer): Delivery {
  const snsType = header(headers, 'x-amz-sns-message-type');
  if (snsType) return { kind: 'sns', message: parseSnsEnvelope(snsType, json(body)) };
  if (isBinaryMode(headers)) return { kind: 'events', notification: parseBinary(headers, body) };
  const contentType = (header(headers, 'content-type') ?? '').toLowerCase();
  const parsed = json(body);
  if (contentType.startsWith('application/cloudevents-batch+json')) {
    return { kind: 'events', notification: parseBatch(parsed) };
  }
  if (contentType.startsWith('application/cloudevents+json')) {
    return { kind: 'events', notification: parseStructured(parsed) };
  }
  return { kind: 'events', notification: readJson(parsed) };
}

/** A JSON body of no declared format: told apart by its fields. */
export function readJson(parsed: unknown): Notification {
  if (isS3Notification(parsed)) return parseS3Notification(parsed);
  if (isCloudEvent(parsed)) return parseStructured(parsed);
  if (Array.isArray(parsed) && parsed.every(isCloudEvent) && parsed.length > 0) return parseBatch(parsed);
  if (isOciEnvelope(parsed)) {
    const e = parsed as Record<string, unknown>;
    const type = String(e.eventType);
    const ref = ociReference(type, e.data, typeof e.eventTime === 'string' ? e.eventTime : undefined);
    return {
      format: 'oci-event',
      references: ref ? [ref] : [],
      ignored: ref ? [] : [{ type, reason: 'not an object-created event' }],
    };
  }
  const fields = isRecord(parsed) ? Object.keys(parsed).slice(0, 8).join(', ') : typeof parsed;
  throw new SluiceError(
    'EVENT_FORMAT_UNSUPPORTED',
    `not an event format Sluice reads (S3 Records, CloudEvents 1.0, OCI Events, SNS); the body has ${fields || 'no fields'}`,
  );
}

/** A verified SNS Notification's Message: S3 event JSON (or any other format above). */
export function readSnsMessage(m: SnsMessage): Notification {
  let parsed: unknown;
  try {
    parsed = JSON.parse(m.Message);
  } catch {
    throw malformed(`SNS message ${m.MessageId}: its Message is not JSON`);
  }
  return { ...readJson(parsed), format: 'sns' };
}
