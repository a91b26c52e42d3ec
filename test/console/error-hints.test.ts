// errors.json, the job page's "what to do" under an error code: the last column of docs/errors.md
// (scripts/error-hints.mjs), for every code the server can report.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import test from 'node:test';
import { extractErrorHints } from '../../scripts/error-hints.mjs';
import { ERROR_CATALOGUE } from '../../src/errors.ts';

test('every code of the catalogue has its hint from docs/errors.md, as plain text', async () => {
  const md = await fs.readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const hints = extractErrorHints(md);
  for (const code of Object.keys(ERROR_CATALOGUE)) {
    assert.ok(hints[code], `a hint for ${code}`);
    assert.doesNotMatch(hints[code] as string, /`|\]\(/, `${code}: markdown left in`);
  }
  assert.equal(hints.UNAUTHORIZED, 'missing or wrong bearer token; it is in <data-dir>/api-token');
  // A link keeps its text: "... ([notifications](notifications.md#server-sent-events))".
  assert.match(hints.INVALID_LAST_EVENT_ID ?? '', /\(notifications\)$/);
});

test('table rows only: the header, separators, prose and other tables without a code are not hints', () => {
  const md = [
    '# Errors',
    '',
    'Some `CODE_IN_PROSE` text | with a pipe.',
    '',
    '| code | HTTP | retried | meaning, and what to do |',
    '| --- | --- | --- | --- |',
    '| `A_CODE` | 400 | no | use `x \\| y` or **z**; see [the docs](a.md) |',
    '| `B_CODE` | 500 | yes | a `|` inside code is text |',
    '| not a code | 1 | no | ignored |',
    '',
  ].join('\n');
  assert.deepEqual(extractErrorHints(md), {
    A_CODE: 'use x | y or z; see the docs',
    B_CODE: 'a | inside code is text',
  });
});
