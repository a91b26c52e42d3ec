// The claim on the machine's PostgreSQL reads its row from the partial index of SUBMITTED jobs in claim
// order (priority, then age), so a deep backlog is not sorted at every claim: with 20,000 jobs (a
// quarter queued, five priorities) the plan is an index scan of jobs_claim and has no Sort node.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { PostgresJobStore } from '../../src/jobs/postgres-job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

before(requirePostgres);

const TEMPLATE = getBuiltinTemplate('abr-default');

test('PostgreSQL: the claim (with and without a pool) walks jobs_claim, with no sort of the backlog', async (t) => {
  let store: PostgresJobStore | null = null;
  const schema = freshSchema(t, async () => {
    await store?.close();
  });
  store = new PostgresJobStore({ connectionString: TEST_DATABASE_URL, schema, maxConnections: 2 });
  await store.migrate();
  const now = new Date();
  const { job } = await store.create(
    {
      pipeline: 'default',
      input: { bucket: 'source', key: 'seed.mp4', size: 1, etag: 'e' },
      templateName: TEMPLATE.name,
      template: TEMPLATE,
      destination: { bucket: 'destination', prefix: 'seed.mp4/abr-default' },
      userMetadata: {},
      idempotencyKey: 'seed',
    },
    now,
  );
  await admin(async (c) => {
    const cols = (
      await c.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'jobs' AND column_name <> 'seq'`,
        [schema],
      )
    ).rows.map((r) => r.column_name);
    const value = (col: string) =>
      ({
        id: `j.id || '-' || g`,
        idempotency_key: `j.idempotency_key || '-' || g`,
        status: `CASE WHEN g % 4 = 0 THEN 'SUBMITTED' ELSE 'COMPLETE' END`,
        priority: 'g % 5',
        created_at: `to_char((now() - make_interval(secs => g)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
      })[col] ?? `j.${col}`;
    await c.query(
      `INSERT INTO "${schema}".jobs (${cols.join(', ')})
       SELECT ${cols.map(value).join(', ')} FROM "${schema}".jobs j CROSS JOIN generate_series(1, 20000) g
       WHERE j.id = $1`,
      [job.id],
    );
    await c.query(`ANALYZE "${schema}".jobs`);
  });
  for (const pool of [undefined, 'local']) {
    const plan = await store.explainClaim(now, pool);
    assert.match(plan, /Index Scan using jobs_claim/, `claim${pool ? ` for pool ${pool}` : ''}:\n${plan}`);
    assert.doesNotMatch(plan, /Sort/, `claim${pool ? ` for pool ${pool}` : ''} sorts:\n${plan}`);
  }
  // And it claims what the order says: the highest priority, then the oldest.
  const claimed = await store.claimNext('lease', 30_000, now);
  assert.equal(claimed?.priority, 4);
  assert.equal(claimed?.id, `${job.id}-19984`, 'the oldest job of priority 4 (g = 19984)');
});
