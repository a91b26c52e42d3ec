// CloudEvents 1.0 over HTTP: structured mode (the whole event as application/cloudevents+json), batch
// mode (an array, application/cloudevents-batch+json) and binary mode (ce-* headers, the body is the
// data). The types Sluice reads: its own io.sluice.object.created and OCI's object events; any other
// type is acknowledged and ignored.
import { OBJECT_CREATED } from '../object-event.ts';
import {
  isRecord,
  malformed,
  type Notification,
  normalizeEtag,
  type ObjectReference,
  optionalSize,
  optionalString,
  requireString,
} from './object-reference.ts';
import { isOciObjectType, ociReference } from './oci-event.ts';

interface CloudEventParts {
  type: string;
  time?: string;
  data: unknown;
}

/** One event's reference, or why it makes none. */
function referenceOf(e: CloudEventParts): ObjectReference | { ignored: string } {
  if (e.type === OBJECT_CREATED) {
    if (!isRecord(e.data)) throw malformed(`${OBJECT_CREATED}: data is not an object`);
    const ref: ObjectReference = {
      type: e.type,
      bucket: requireString(e.data.bucket, `${OBJECT_CREATED}: data.bucket`),
      key: requireString(e.data.key, `${OBJECT_CREATED}: data.key`),
    };
    const etag = normalizeEtag(e.data.etag);
    if (etag) ref.etag = etag;
    const size = optionalSize(e.data.size);
    if (size !== undefined) ref.size = size;
    const t = optionalString(e.time);
    if (t) ref.eventTime = t;
    return ref;
  }
  if (isOciObjectType(e.type)) {
    return ociReference(e.type, e.data, e.time) ?? { ignored: 'not an object-created event' };
  }
  return { ignored: 'not an event type Sluice reads' };
}

function add(out: Notification, e: CloudEventParts): void {
  const r = referenceOf(e);
  if ('ignored' in r) out.ignored.push({ type: e.type, reason: r.ignored });
  else out.references.push(r);
}

/** A structured-mode event (a JSON object); `at` names it in messages. */
function structured(body: unknown, at: string): CloudEventParts {
  if (!isRecord(body)) throw malformed(`${at} is not a JSON object`);
  if (body.specversion !== '1.0') {
    throw malformed(`${at}.specversion is ${JSON.stringify(body.specversion)}; Sluice reads CloudEvents 1.0`);
  }
  const type = requireString(body.type, `${at}.type`);
  requireString(body.id, `${at}.id`);
  requireString(body.source, `${at}.source`);
  let data = body.data;
  if (data === undefined && typeof body.data_base64 === 'string') {
    data = jsonData(Buffer.from(body.data_base64, 'base64'), `${at}.data_base64`);
  }
  return { type, time: optionalString(body.time), data };
}

function jsonData(raw: Buffer, what: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw malformed(`${what} is not JSON: ${(err as Error).message}`);
  }
}

export function isCloudEvent(body: unknown): boolean {
  return isRecord(body) && typeof body.specversion === 'string';
}

export function parseStructured(body: unknown): Notification {
  const out: Notification = { format: 'cloudevents-structured', references: [], ignored: [] };
  add(out, structured(body, 'event'));
  return out;
}

export function parseBatch(body: unknown): Notification {
  if (!Array.isArray(body)) throw malformed('a CloudEvents batch is a JSON array of events');
  const out: Notification = { format: 'cloudevents-batch', references: [], ignored: [] };
  body.forEach((e, i) => {
    add(out, structured(e, `events[${i}]`));
  });
  return out;
}

/** Whether request headers carry a binary-mode event. */
export function isBinaryMode(headers: Record<string, string | string[] | undefined>): boolean {
  return typeof headers['ce-specversion'] === 'string';
}

export function parseBinary(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): Notification {
  const h = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  if (h('ce-specversion') !== '1.0') {
    throw malformed(`ce-specversion is ${JSON.stringify(h('ce-specversion'))}; Sluice reads CloudEvents 1.0`);
  }
  const type = requireString(h('ce-type'), 'header ce-type');
  requireString(h('ce-id'), 'header ce-id');
  requireString(h('ce-source'), 'header ce-source');
  const contentType = (h('content-type') ?? 'application/json').toLowerCase();
  if (!/^application\/([a-z0-9.+-]+\+)?json\b/.test(contentType)) {
    throw malformed(`a binary-mode event's data must be JSON; content-type is ${contentType}`);
  }
  const out: Notification = { format: 'cloudevents-binary', references: [], ignored: [] };
  add(out, { type, time: h('ce-time'), data: jsonData(body, 'the event data') });
  return out;
}
