// OCI Events' object events (Object Storage with "Emit Object Events" on), as OCI Notifications
// delivers them to an HTTPS subscription: CloudEvents 0.1 field names (eventType, eventTime), or 1.0
// (type, time) through a CloudEvents sender. data.resourceName is the object's name (not encoded),
// data.additionalDetails.bucketName its bucket, eTag its version.
import {
  isRecord,
  malformed,
  normalizeEtag,
  type ObjectReference,
  optionalString,
  requireString,
} from './object-reference.ts';

export const OCI_CREATE_OBJECT = 'com.oraclecloud.objectstorage.createobject';
export const OCI_UPDATE_OBJECT = 'com.oraclecloud.objectstorage.updateobject';
const OCI_PREFIX = 'com.oraclecloud.objectstorage.';

export function isOciObjectType(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith(OCI_PREFIX);
}

/** OCI's own envelope: eventType + cloudEventsVersion (0.1), no specversion. */
export function isOciEnvelope(body: unknown): boolean {
  return isRecord(body) && isOciObjectType(body.eventType) && body.specversion === undefined;
}

/** The reference of an OCI object event's data, or null for a type that creates nothing (deletes). */
export function ociReference(type: string, data: unknown, eventTime?: string): ObjectReference | null {
  if (type !== OCI_CREATE_OBJECT && type !== OCI_UPDATE_OBJECT) return null;
  if (!isRecord(data)) throw malformed(`${type}: data is not an object`);
  const details = isRecord(data.additionalDetails) ? data.additionalDetails : {};
  const ref: ObjectReference = {
    type,
    bucket: requireString(details.bucketName, `${type}: data.additionalDetails.bucketName`),
    key: requireString(data.resourceName, `${type}: data.resourceName`),
  };
  const etag = normalizeEtag(details.eTag);
  if (etag) ref.etag = etag;
  const t = optionalString(eventTime);
  if (t) ref.eventTime = t;
  return ref;
}
