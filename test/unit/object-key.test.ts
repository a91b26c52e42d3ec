// Object keys and bucket names: validated before any use, never trusted as paths.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import {
  baseNameOf,
  outputPrefixFor,
  validateBucketName,
  validateObjectKey,
} from '../../src/storage/object-key.ts';

function isInvalidKey(err: unknown): boolean {
  assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
  assert.equal(err.code, 'INVALID_OBJECT_KEY');
  return true;
}

describe('validateObjectKey refuses keys that could escape the bucket or are not plain paths', () => {
  const refused: [string, string][] = [
    ['../x', 'a parent segment'],
    ['a/../../etc/passwd', 'a parent segment in the middle'],
    ['%2e%2e%2f', 'an encoded ../'],
    ['%2e%2e/x', 'an encoded .. segment'],
    ['..\\x', 'a backslash separator'],
    ['/etc/passwd', 'an absolute path'],
    ['a\u0000b', 'a NUL byte'],
    ['a//b', 'an empty segment'],
    ['', 'the empty key'],
    ['a/', 'a trailing slash'],
    ['.', 'a current-directory key'],
    ['a/./b', 'a current-directory segment'],
  ];
  for (const [key, why] of refused) {
    test(`refuses ${JSON.stringify(key)} (${why}) with INVALID_OBJECT_KEY`, () => {
      assert.throws(() => validateObjectKey(key), isInvalidKey);
    });
  }

  test('refuses a key longer than 1024 bytes', () => {
    assert.throws(() => validateObjectKey(`${'a/'.repeat(512)}b`), isInvalidKey);
  });
});

describe('validateObjectKey accepts ordinary keys unchanged', () => {
  for (const key of ['foo..bar.mp4', 'videos/2024/clip.mp4', 'my clip (1).mov', 'unicodé/видео.mp4']) {
    test(`accepts ${JSON.stringify(key)} and returns it as is`, () => {
      assert.equal(validateObjectKey(key), key);
    });
  }
});

describe('validateBucketName', () => {
  test('accepts a lowercase name', () => {
    assert.equal(validateBucketName('source'), 'source');
    assert.equal(validateBucketName('my-bucket.2024'), 'my-bucket.2024');
  });

  for (const name of ['Source', '../x', 'a', '', 'has space', 'x/y']) {
    test(`refuses ${JSON.stringify(name)} with INVALID_OBJECT_KEY`, () => {
      assert.throws(() => validateBucketName(name), isInvalidKey);
    });
  }
});

describe('output naming', () => {
  test('outputPrefixFor keeps the input key whole, extension included, and puts the template under it', () => {
    assert.equal(
      outputPrefixFor('videos/clip.final.mp4', 'abr-default'),
      'videos/clip.final.mp4/abr-default',
    );
    assert.equal(outputPrefixFor('clip', 'hls-720p'), 'clip/hls-720p');
    assert.notEqual(outputPrefixFor('talk.mp4', 'abr-default'), outputPrefixFor('talk.mov', 'abr-default'));
    assert.notEqual(outputPrefixFor('talk.mp4', 'abr-default'), outputPrefixFor('talk.mp4', 'hls-720p'));
  });

  test('baseNameOf is the file name without its extension', () => {
    assert.equal(baseNameOf('a/b/c.mp4'), 'c');
    assert.equal(baseNameOf('clip.final.mov'), 'clip.final');
    assert.equal(baseNameOf('videos/.hidden'), '.hidden', 'a dotfile name is kept whole');
  });
});
