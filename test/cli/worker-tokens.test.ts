// `sluice workers token create|list|revoke` end to end: the real CLI process against the API listening
// on loopback (real Fastify, real SQLite). Tokens are printed once, stored hashed, and protected like the
// rest of the API.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { hashLeaseToken } from '../../src/jobs/lease-token.ts';
import { buildTestApi } from '../api/test-api.ts';

const run = promisify(execFile);
const SLUICE = path.resolve('bin/sluice.js');

async function sluice(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE, ...args], {
      timeout: 30_000,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('sluice workers token create, list and revoke; only the hash is stored; the API token protects them', async (t) => {
  const apiToken = 'test-api-token-0123456789';
  const pools = { pools: ['on-demand', 'spot'], fallbackMs: 60_000, preemptionsPerPool: 1 };
  const { app, store, dir } = await buildTestApi(t, { apiToken, pools });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const env = { SLUICE_API_TOKEN: apiToken };

  const made = await sluice(
    env,
    '--server',
    url,
    'workers',
    'token',
    'create',
    '--pool',
    'spot',
    '--label',
    'rack 7',
  );
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  assert.match(token, /^sluice_wt_[A-Za-z0-9_-]{40,}$/, 'stdout is the token alone');
  assert.match(made.stderr, /pool spot/);
  const second = await sluice(env, '--server', url, 'workers', 'token', 'create', '--json');
  assert.equal(second.code, 0, second.stderr);
  const secondToken = JSON.parse(second.stdout) as { id: string; pool: string; token: string };
  assert.equal(secondToken.pool, 'on-demand', "without --pool: the server's first pool");
  const unknownPool = await sluice(env, '--server', url, 'workers', 'token', 'create', '--pool', 'gpu');
  assert.equal(unknownPool.code, 1);
  assert.match(unknownPool.stderr, /POOL_UNKNOWN.*gpu.*on-demand, spot/);

  const listed = await sluice(env, '--server', url, 'workers', 'token', 'list', '--json');
  const tokens = JSON.parse(listed.stdout) as {
    id: string;
    pool: string;
    label: string | null;
    revokedAt: string | null;
  }[];
  assert.equal(tokens.length, 2);
  const spot = tokens.find((x) => x.pool === 'spot');
  assert.ok(spot);
  assert.equal(spot.label, 'rack 7');
  assert.equal(spot.revokedAt, null);
  assert.ok(
    !listed.stdout.includes(token) && !listed.stdout.includes(secondToken.token),
    'list never shows a token',
  );
  const table = await sluice(env, '--server', url, 'workers', 'token', 'list');
  assert.match(table.stdout, new RegExp(`${spot.id}\\s+spot\\s+active`));

  // At rest: the hash, never the token.
  await store.close().catch(() => {});
  const db = await fs.readFile(path.join(dir, 'sluice.db')).catch(() => Buffer.alloc(0));
  const wal = await fs.readFile(path.join(dir, 'sluice.db-wal')).catch(() => Buffer.alloc(0));
  const atRest = Buffer.concat([db, wal]).toString('latin1');
  assert.ok(!atRest.includes(token), 'the token is not stored');
  assert.ok(atRest.includes(hashLeaseToken(token)), 'its SHA-256 is');
});

test('sluice workers token revoke: revoked at once, kept in the list; an unknown id is WORKER_TOKEN_NOT_FOUND', async (t) => {
  const { app } = await buildTestApi(t);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const made = JSON.parse(
    (await sluice({}, '--server', url, 'workers', 'token', 'create', '--json')).stdout,
  ) as {
    id: string;
    token: string;
  };
  const claim = () =>
    fetch(`${url}/v1/worker/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${made.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ waitSeconds: 0 }),
    });
  assert.equal((await claim()).status, 204, 'a valid token with no work: 204');
  const revoked = await sluice({}, '--server', url, 'workers', 'token', 'revoke', made.id);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`${made.id}\\s+revoked \\d{4}-`));
  const refused = await claim();
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { code: string }).code, 'WORKER_TOKEN_REVOKED');
  const list = JSON.parse(
    (await sluice({}, '--server', url, 'workers', 'token', 'list', '--json')).stdout,
  ) as {
    revokedAt: string | null;
    lastUsedAt: string | null;
  }[];
  assert.equal(list.length, 1);
  assert.ok(list[0]?.revokedAt, 'still listed, as revoked');
  assert.ok(list[0]?.lastUsedAt, 'the claim was recorded as a use');

  const unknown = await sluice({}, '--server', url, 'workers', 'token', 'revoke', 'wt_nope');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /WORKER_TOKEN_NOT_FOUND/);
  const badPool = await sluice({}, '--server', url, 'workers', 'token', 'create', '--pool', 'Not A Pool');
  assert.equal(badPool.code, 1);
  assert.match(badPool.stderr, /VALIDATION_FAILED/);
});

test('the worker token routes need the API token when the API has one', async (t) => {
  const { app } = await buildTestApi(t, { apiToken: 'secret-api-token' });
  for (const [method, url] of [
    ['POST', '/v1/workers/tokens'],
    ['GET', '/v1/workers/tokens'],
    ['POST', '/v1/workers/tokens/wt_x/revoke'],
  ] as const) {
    const res = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
    assert.equal(res.statusCode, 401, `${method} ${url}`);
    assert.equal(res.json().code, 'UNAUTHORIZED');
  }
});
