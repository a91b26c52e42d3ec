// Storage settings (SLUICE_STORAGE, SLUICE_S3_*, role buckets) and the headers objects are stored with.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { SluiceError } from '../../src/errors.ts';
import { cacheControlOf, contentTypeOf } from '../../src/storage/content-type.ts';
import { storageEnvOf } from '../../src/storage/open-object-store.ts';

const refused = (re: RegExp) => (e: unknown) =>
  e instanceof SluiceError && e.code === 'VALIDATION_FAILED' && re.test(e.message);

test('storage defaults to local folders and the buckets source and destination', () => {
  const c = loadConfig({}, {});
  assert.equal(c.storage, 'local');
  assert.equal(c.sourceBucket, 'source');
  assert.equal(c.destinationBucket, 'destination');
  assert.equal(c.s3ForcePathStyle, false);
});

test('SLUICE_STORAGE=s3 takes endpoint, region, path style, keys and bucket names from the environment', () => {
  const env = {
    SLUICE_STORAGE: 's3',
    SLUICE_S3_ENDPOINT: 'https://ns.compat.objectstorage.eu-frankfurt-1.oraclecloud.com',
    SLUICE_S3_REGION: 'eu-frankfurt-1',
    SLUICE_S3_FORCE_PATH_STYLE: 'true',
    SLUICE_S3_ACCESS_KEY_ID: 'id',
    SLUICE_S3_SECRET_ACCESS_KEY: 'secret',
    SLUICE_SOURCE_BUCKET: 'media-in',
    SLUICE_DESTINATION_BUCKET: 'media-out',
  };
  const c = loadConfig({}, env);
  assert.equal(c.storage, 's3');
  assert.equal(c.s3ForcePathStyle, true);
  assert.equal(c.sourceBucket, 'media-in');
  assert.equal(loadConfig({}, { ...env, SLUICE_S3_FORCE_PATH_STYLE: 'false' }).s3ForcePathStyle, false);
  // What a local worker is given reads back as the same settings.
  const again = loadConfig({}, storageEnvOf(c));
  for (const k of [
    'storage',
    's3Endpoint',
    's3Region',
    's3ForcePathStyle',
    's3AccessKeyId',
    'sourceBucket',
  ] as const)
    assert.equal(again[k], c[k], k);
});

test('S3 settings without SLUICE_STORAGE=s3, half a key pair, one bucket for both roles or a bad name are refused', () => {
  assert.throws(
    () => loadConfig({}, { SLUICE_S3_ENDPOINT: 'http://127.0.0.1:9000' }),
    refused(/SLUICE_STORAGE=s3/),
  );
  assert.throws(
    () => loadConfig({}, { SLUICE_STORAGE: 's3', SLUICE_S3_ACCESS_KEY_ID: 'id' }),
    refused(/go together/),
  );
  assert.throws(
    () => loadConfig({}, { SLUICE_SOURCE_BUCKET: 'media', SLUICE_DESTINATION_BUCKET: 'media' }),
    refused(/use two buckets/),
  );
  assert.throws(() => loadConfig({}, { SLUICE_SOURCE_BUCKET: 'Media_In' }), refused(/SLUICE_SOURCE_BUCKET/));
  assert.throws(() => loadConfig({}, { SLUICE_STORAGE: 's4' }), refused(/SLUICE_STORAGE/));
  assert.throws(
    () => loadConfig({}, { SLUICE_STORAGE: 's3', SLUICE_S3_ENDPOINT: 'ftp://x' }),
    refused(/SLUICE_S3_ENDPOINT/),
  );
  assert.throws(
    () => loadConfig({}, { SLUICE_STORAGE: 's3', SLUICE_S3_FORCE_PATH_STYLE: 'maybe' }),
    refused(/SLUICE_S3_FORCE_PATH_STYLE/),
  );
});

test('Content-Type per suffix, case-insensitive, octet-stream for the unknown', () => {
  assert.equal(contentTypeOf('a/master.m3u8'), 'application/vnd.apple.mpegurl');
  assert.equal(contentTypeOf('a/manifest.mpd'), 'application/dash+xml');
  assert.equal(contentTypeOf('a/v/x/seg-1.m4s'), 'video/iso.segment');
  assert.equal(contentTypeOf('a/TALK.MP4'), 'video/mp4');
  assert.equal(contentTypeOf('a/poster.jpg'), 'image/jpeg');
  assert.equal(contentTypeOf('a/sprites.vtt'), 'text/vtt');
  assert.equal(contentTypeOf('a/v/x/audio.m4a'), 'audio/mp4');
  assert.equal(contentTypeOf('a/README'), 'application/octet-stream');
  assert.equal(contentTypeOf('a.mp4/noext'), 'application/octet-stream', 'a folder named like a file');
});

test('Cache-Control: immutable only inside a version folder; stable names revalidate', () => {
  assert.match(cacheControlOf('talk.mp4/abr-default/v/01J-1/720p/seg-1.m4s'), /immutable/);
  assert.match(cacheControlOf('v/01J-1/index.m3u8'), /immutable/);
  assert.equal(cacheControlOf('talk.mp4/abr-default/master.m3u8'), 'no-cache');
  assert.equal(cacheControlOf('talk.mp4/abr-default/talk.mp4'), 'no-cache');
  assert.equal(cacheControlOf('talk.mp4/abr-default/v/'), 'no-cache', 'no file in the folder');
  assert.equal(cacheControlOf('dev/talk.mp4'), 'no-cache', 'a folder ending in v is not a version folder');
});
