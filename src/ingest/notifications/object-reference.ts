// What an object-store notification says, reduced to references (a claim check): which object version
// may be new. Nothing in a notification is trusted for content; ingest stats the object itself.
import { SluiceError } from '../../errors.ts';

export interface ObjectReference {
  bucket: string;
  key: string;
  /** The version the event names (quotes removed); absent: the object's current version is used. */
  etag?: string;
  size?: number;
  /** S3's per-key ordering token (hex): a lower one than already seen for the key is a stale event. */
  sequencer?: string;
  versionId?: string;
  eventTime?: string;
  /** The event type as the sender named it (ObjectCreated:Put, com.oraclecloud...createobject). */
  type: string;
}

/** A notification read: the object-created references, and the events that create nothing. */
export interface Notification {
  format: NotificationFormat;
  references: ObjectReference[];
  /** Deletes, test events and other types: acknowledged and left alone. */
  ignored: { type: string; reason: string }[];
}

export type NotificationFormat =
  | 'cloudevents-structured'
  | 'cloudevents-batch'
  | 'cloudevents-binary'
  | 'oci-event'
  | 's3'
  | 'sns';

export function malformed(message: string): SluiceError {
  return new SluiceError('EVENT_MALFORMED', message);
}

/** ETags arrive quoted (`"abc"`, S3 headers) or not (S3 event JSON); a store compares them bare. */
export function normalizeEtag(etag: unknown): string | undefined {
  if (typeof etag !== 'string') return undefined;
  const bare = etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"+|"+$/g, '');
  return bare === '' ? undefined : bare;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function optionalSize(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function requireString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw malformed(`${what} is missing or not a string`);
  return v;
}
