// Object keys and bucket names are validated before any use; a key is never used as a raw path.
import { SluiceError } from '../errors.ts';

const MAX_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,62}$/;

function refuse(key: string, why: string): never {
  throw new SluiceError('INVALID_OBJECT_KEY', `object key ${JSON.stringify(key)} is refused: ${why}`);
}

function decodeOnce(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Returns the key unchanged if it is a safe relative path of `/`-separated segments; throws otherwise. */
export function validateObjectKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) refuse(String(key), 'it is empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) refuse(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we refuse
  if (/[\u0000-\u001f\u007f]/.test(key)) refuse(key, 'it contains a control character');
  if (key.includes('\\')) refuse(key, 'it contains a backslash');
  if (key.startsWith('/')) refuse(key, 'it is absolute (starts with /)');
  for (const segment of key.split('/')) {
    if (segment === '') refuse(key, 'it has an empty path segment (// or a trailing /)');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) refuse(key, 'a path segment is too long');
    const decoded = decodeOnce(segment);
    if (decoded === '.' || decoded === '..') refuse(key, 'it has a . or .. segment');
    if (decoded !== segment && /[/\\]/.test(decoded)) refuse(key, 'it has an encoded path separator');
  }
  return key;
}

export function validateBucketName(bucket: string): string {
  if (!BUCKET_NAME.test(bucket)) {
    throw new SluiceError(
      'INVALID_OBJECT_KEY',
      `bucket name ${JSON.stringify(bucket)} is refused: use 2-63 lowercase letters, digits, . and -`,
    );
  }
  return bucket;
}

/**
 * Where a job's outputs go: the input's whole key (extension kept) and then the template, so
 * `talk.mp4` and `talk.mov`, or one input through two templates, never share a folder:
 * `videos/talk.mp4` + `abr-default` -> `videos/talk.mp4/abr-default`.
 */
export function outputPrefixFor(key: string, template: string): string {
  return `${key}/${template}`;
}

/** `videos/clip.final.mp4` -> `clip.final`: the name of the files a job publishes (seed 001). */
export function baseNameOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return (dot > 0 ? name.slice(0, dot) : name) || 'output';
}
