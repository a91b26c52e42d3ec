// Configuration: embedded defaults, then SLUICE_* environment variables, then CLI flags.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_PORT, loadConfig, localPoolsOf, poolSettingsOf } from '../../src/config/config.ts';
import { SluiceError } from '../../src/errors.ts';

test('with no flags and no environment the embedded defaults apply', () => {
  const c = loadConfig({}, {});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8787);
  assert.equal(DEFAULT_PORT, 8787);
  assert.equal(c.dataDir, path.resolve('sluice-data'));
  assert.ok(path.isAbsolute(c.dataDir));
  assert.equal(c.defaultTemplate, 'abr-default');
  assert.ok(c.concurrency >= 1);
});

test('the process environment is not read when an env object is given', () => {
  const saved = process.env.SLUICE_PORT;
  process.env.SLUICE_PORT = '9999';
  try {
    assert.equal(loadConfig({}, {}).port, 8787);
  } finally {
    if (saved === undefined) delete process.env.SLUICE_PORT;
    else process.env.SLUICE_PORT = saved;
  }
});

test('SLUICE_* environment variables override the defaults (strings coerced)', () => {
  const c = loadConfig({}, { SLUICE_PORT: '9000', SLUICE_HOST: '0.0.0.0', SLUICE_DATA_DIR: 'elsewhere' });
  assert.equal(c.port, 9000);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.dataDir, path.resolve('elsewhere'));
});

test('an empty environment variable counts as unset', () => {
  assert.equal(loadConfig({}, { SLUICE_PORT: '' }).port, 8787);
});

test('flags override the environment', () => {
  const c = loadConfig({ port: 7000, host: 'localhost' }, { SLUICE_PORT: '9000', SLUICE_HOST: '0.0.0.0' });
  assert.equal(c.port, 7000);
  assert.equal(c.host, 'localhost');
});

test("an invalid SLUICE_PORT 'abc' is VALIDATION_FAILED naming SLUICE_PORT", () => {
  assert.throws(
    () => loadConfig({}, { SLUICE_PORT: 'abc' }),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.ok(err.message.includes('SLUICE_PORT'), err.message);
      return true;
    },
  );
});

test('an out-of-range port is refused', () => {
  assert.throws(
    () => loadConfig({ port: 70000 }, {}),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'VALIDATION_FAILED');
      return true;
    },
  );
});

test('a misspelt SLUICE_ variable is refused, naming it, instead of silently keeping the default', () => {
  assert.throws(
    () => loadConfig({}, { SLUICE_SETTL_MS: '100' }),
    (err: Error & { code?: string }) =>
      err.code === 'VALIDATION_FAILED' && /SLUICE_SETTL_MS/.test(err.message),
  );
  assert.equal(loadConfig({}, { SLUICE_SETTLE_MS: '100', SLUICE_FFMPEG: '/usr/bin/ffmpeg' }).settleMs, 100);
});

test('capacity pools: one pool `local` by default, served locally at the concurrency', () => {
  const c = loadConfig({ concurrency: 3 }, {});
  assert.deepEqual(poolSettingsOf(c), { pools: ['local'], fallbackMs: 60_000, preemptionsPerPool: 1 });
  assert.deepEqual(localPoolsOf(c), [{ name: 'local', capacity: 3 }]);
});

test('SLUICE_POOLS in order of preference; SLUICE_LOCAL_POOLS default the first, `name=capacity` each', () => {
  const env = {
    SLUICE_POOLS: 'spot, on-demand',
    SLUICE_POOL_FALLBACK_SECONDS: '5',
    SLUICE_POOL_PREEMPTIONS: '3',
  };
  const c = loadConfig({ concurrency: 2 }, env);
  assert.deepEqual(poolSettingsOf(c), {
    pools: ['spot', 'on-demand'],
    fallbackMs: 5000,
    preemptionsPerPool: 3,
  });
  assert.deepEqual(localPoolsOf(c), [{ name: 'spot', capacity: 2 }]);
  const both = loadConfig({ concurrency: 2 }, { ...env, SLUICE_LOCAL_POOLS: 'spot=0,on-demand' });
  assert.deepEqual(localPoolsOf(both), [
    { name: 'spot', capacity: 0 },
    { name: 'on-demand', capacity: 2 },
  ]);
});

test('pool settings that cannot work are refused, naming the variable', () => {
  const refused = (env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadConfig({}, env),
      (e: unknown) => e instanceof SluiceError && e.code === 'VALIDATION_FAILED' && re.test(e.message),
    );
  refused({ SLUICE_POOLS: 'spot,spot' }, /SLUICE_POOLS.*named twice/);
  refused({ SLUICE_POOLS: 'spot,' }, /SLUICE_POOLS/);
  refused({ SLUICE_POOLS: 'spot', SLUICE_LOCAL_POOLS: 'gpu' }, /SLUICE_LOCAL_POOLS\) names gpu/);
  refused({ SLUICE_POOLS: 'spot', SLUICE_LOCAL_POOLS: 'spot=-1' }, /SLUICE_LOCAL_POOLS/);
  refused({ SLUICE_POOLS: 'spot', SLUICE_LOCAL_POOLS: 'spot=x' }, /SLUICE_LOCAL_POOLS/);
  refused({ SLUICE_POOL_PREEMPTIONS: '0' }, /SLUICE_POOL_PREEMPTIONS/);
});

test('SLUICE_DATABASE_URL: unset keeps SQLite; a postgres:// URL is taken; another scheme is refused', () => {
  assert.equal(loadConfig({}, {}).databaseUrl, undefined);
  const url = 'postgres://postgres@127.0.0.1:5432/test?schema=run_1';
  assert.equal(loadConfig({}, { SLUICE_DATABASE_URL: url }).databaseUrl, url);
  assert.throws(
    () => loadConfig({}, { SLUICE_DATABASE_URL: 'mysql://x@h/db' }),
    (err: unknown) =>
      err instanceof SluiceError &&
      err.code === 'VALIDATION_FAILED' &&
      /SLUICE_DATABASE_URL/.test(err.message),
  );
});

test('the source watch: SLUICE_RECONCILE_SECONDS defaults to 5 minutes; SLUICE_POLL_MS is gone and refused as unknown', () => {
  assert.equal(loadConfig({}, {}).reconcileSeconds, 300);
  assert.equal(loadConfig({}, { SLUICE_RECONCILE_SECONDS: '0.5' }).reconcileSeconds, 0.5);
  assert.throws(
    () => loadConfig({}, { SLUICE_RECONCILE_SECONDS: '0' }),
    (err: Error & { code?: string }) =>
      err.code === 'VALIDATION_FAILED' && /SLUICE_RECONCILE_SECONDS/.test(err.message),
  );
  assert.throws(
    () => loadConfig({}, { SLUICE_POLL_MS: '500' }),
    (err: Error & { code?: string }) =>
      err.code === 'VALIDATION_FAILED' &&
      /SLUICE_POLL_MS was removed/.test(err.message) &&
      /SLUICE_RECONCILE_SECONDS/.test(err.message),
  );
});
