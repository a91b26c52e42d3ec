// The machine's PostgreSQL for tests: each test run makes its own schema (random name) and drops it
// after. Unreachable is a failure with a clear message, never a silent skip.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Fails (with the reason on stderr) when PostgreSQL does not answer. */
export async function requirePostgres(): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
  } catch (err) {
    const why = `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}). These tests need it: start PostgreSQL (user postgres, database test, trust auth on 127.0.0.1:5432) or set TEST_DATABASE_URL.`;
    process.stderr.write(`\n*** ${why}\n\n`);
    assert.fail(why);
  } finally {
    await c.end().catch(() => {});
  }
}

export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A schema name of its own for this test; dropped (CASCADE) after, once `cleanup` closed what used it. */
export function freshSchema(
  t: { after: (fn: () => Promise<void>) => void },
  cleanup: () => Promise<void> = async () => {},
): string {
  const schema = `sluice_test_${randomBytes(6).toString('hex')}`;
  t.after(async () => {
    await cleanup();
    await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  });
  return schema;
}
