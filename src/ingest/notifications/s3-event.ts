// S3 event notification JSON, as AWS sends it (to SNS, SQS, Lambda) and as MinIO's webhook targets
// post it (the same Records[], wrapped with EventName and Key). Only ObjectCreated:* makes a reference;
// the keys in it are URL-encoded, with + for a space.
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

/** Whether a JSON body looks like S3's: a Records array, or S3's test event. */
export function isS3Notification(body: unknown): boolean {
  return isRecord(body) && (Array.isArray(body.Records) || body.Event === 's3:TestEvent');
}

/** `inputs/my+talk%281%29.mp4` -> `inputs/my talk(1).mp4`; a broken %-escape is malformed. */
export function decodeS3Key(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw malformed(`s3.object.key ${JSON.stringify(encoded)} is not valid URL encoding`);
  }
}

export function parseS3Notification(body: unknown): Notification {
  const out: Notification = { format: 's3', references: [], ignored: [] };
  if (!isRecord(body)) throw malformed('an S3 notification is a JSON object');
  if (body.Event === 's3:TestEvent') {
    out.ignored.push({
      type: 's3:TestEvent',
      reason: 'S3 test event (sent when notifications are configured)',
    });
    return out;
  }
  if (!Array.isArray(body.Records)) throw malformed('an S3 notification has a Records array');
  body.Records.forEach((record: unknown, i: number) => {
    const at = `Records[${i}]`;
    if (!isRecord(record)) throw malformed(`${at} is not an object`);
    const eventName = requireString(record.eventName, `${at}.eventName`);
    // AWS: ObjectCreated:Put; MinIO: s3:ObjectCreated:Put.
    const name = eventName.replace(/^s3:/, '');
    if (!name.startsWith('ObjectCreated:')) {
      out.ignored.push({ type: eventName, reason: 'not an object-created event' });
      return;
    }
    const s3 = record.s3;
    if (!isRecord(s3) || !isRecord(s3.bucket) || !isRecord(s3.object)) {
      throw malformed(`${at}.s3 needs bucket and object`);
    }
    const ref: ObjectReference = {
      type: eventName,
      bucket: requireString(s3.bucket.name, `${at}.s3.bucket.name`),
      key: decodeS3Key(requireString(s3.object.key, `${at}.s3.object.key`)),
    };
    const etag = normalizeEtag(s3.object.eTag ?? s3.object.etag);
    if (etag) ref.etag = etag;
    const size = optionalSize(s3.object.size);
    if (size !== undefined) ref.size = size;
    const sequencer = optionalString(s3.object.sequencer);
    if (sequencer) ref.sequencer = sequencer;
    const versionId = optionalString(s3.object.versionId);
    if (versionId) ref.versionId = versionId;
    const eventTime = optionalString(record.eventTime);
    if (eventTime) ref.eventTime = eventTime;
    out.references.push(ref);
  });
  return out;
}
