// "Object created" as a CloudEvent (spec 1.0): subject is the key, data names the object's version.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { fieldPathOf, SluiceError } from '../errors.ts';
import type { ObjectInfo } from '../storage/object-store.ts';

export const OBJECT_CREATED = 'io.sluice.object.created';

export const ObjectEvent = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  type: z.literal(OBJECT_CREATED),
  source: z.string().min(1),
  subject: z.string().min(1),
  time: z.string(),
  datacontenttype: z.literal('application/json').optional(),
  data: z.object({
    bucket: z.string().min(1),
    key: z.string().min(1),
    size: z.number().int().nonnegative(),
    etag: z.string().min(1),
  }),
});
export type ObjectEvent = z.infer<typeof ObjectEvent>;

export function objectCreatedEvent(object: ObjectInfo, source: string, now = new Date()): ObjectEvent {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type: OBJECT_CREATED,
    source,
    subject: object.key,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    data: { bucket: object.bucket, key: object.key, size: object.size, etag: object.etag },
  };
}

export function parseObjectEvent(input: unknown): ObjectEvent {
  const parsed = ObjectEvent.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPathOf(i.path) || '(root)'}: ${i.message}`);
    throw new SluiceError('VALIDATION_FAILED', `not an object-created CloudEvent: ${issues.join('; ')}`);
  }
  return parsed.data;
}
