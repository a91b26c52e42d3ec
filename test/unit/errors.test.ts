// The error catalogue: codes as data, each with an HTTP status and a retry rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ERROR_CATALOGUE,
  type ErrorCode,
  isErrorCode,
  SluiceError,
  toSluiceError,
} from '../../src/errors.ts';

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

test('every code is unique (even ignoring case) and upper snake case', () => {
  assert.ok(CODES.length > 0);
  assert.equal(new Set(CODES.map((c) => c.toLowerCase())).size, CODES.length);
  for (const code of CODES) assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
});

test('every code has a 4xx or 5xx HTTP status and a title', () => {
  for (const code of CODES) {
    const { status, title } = ERROR_CATALOGUE[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
    assert.ok(title.length > 0, code);
  }
});

test('no client error (4xx) is retryable: the same request would be refused again', () => {
  for (const code of CODES) {
    const { status, retryable } = ERROR_CATALOGUE[code];
    if (status < 500) assert.equal(retryable, false, code);
  }
});

test('SluiceError exposes code, status and retryable from the catalogue', () => {
  for (const code of CODES) {
    const err = new SluiceError(code, `msg for ${code}`, { k: 1 });
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'SluiceError');
    assert.equal(err.code, code);
    assert.equal(err.message, `msg for ${code}`);
    assert.equal(err.status, ERROR_CATALOGUE[code].status, code);
    assert.equal(err.retryable, ERROR_CATALOGUE[code].retryable, code);
    assert.deepEqual(err.details, { k: 1 });
  }
  assert.equal(new SluiceError('JOB_NOT_FOUND', 'x').status, 404);
  assert.equal(new SluiceError('TRANSCODE_FAILED', 'x').retryable, true);
  assert.equal(new SluiceError('INPUT_NO_VIDEO', 'x').retryable, false);
});

test('isErrorCode accepts catalogue codes only, not inherited object properties', () => {
  for (const code of CODES) assert.equal(isErrorCode(code), true, code);
  for (const v of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'internal', '', 42, null]) {
    assert.equal(isErrorCode(v), false, String(v));
  }
});

test('toSluiceError keeps a SluiceError and wraps anything else as INTERNAL with its message', () => {
  const own = new SluiceError('LEASE_LOST', 'gone');
  assert.equal(toSluiceError(own), own);
  const wrapped = toSluiceError(new TypeError('boom'));
  assert.equal(wrapped.code, 'INTERNAL');
  assert.equal(wrapped.message, 'boom');
  assert.equal(toSluiceError('plain string').message, 'plain string');
});

test('docs/errors.md documents every code with its status and retry rule, and configuration.md every variable', async () => {
  const fs = await import('node:fs/promises');
  const { CONFIG_ENV, OTHER_ENV } = await import('../../src/config/config.ts');
  const doc = await fs.readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
    assert.ok(row, `${code} is documented`);
    const [, status, retried] = row
      .split('|')
      .map((c) => c.trim())
      .slice(1);
    assert.equal(Number(status), e.status, `${code}: documented status`);
    assert.equal(retried, e.retryable ? 'yes' : 'no', `${code}: documented retry rule`);
  }
  const config = await fs.readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const name of [...Object.values(CONFIG_ENV), ...OTHER_ENV]) {
    assert.ok(config.includes(`\`${name}\``), `${name} is documented`);
  }
});
