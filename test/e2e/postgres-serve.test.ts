// A real `sluice serve` on PostgreSQL: SLUICE_DATABASE_URL names the machine's database with a schema of
// this run (`?schema=NAME`), and one tiny clip goes through to COMPLETE. The job lives in that schema,
// and no SQLite file is made in the data directory.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { clip, waitFor } from '../helpers.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { type RealServer, startRealServer } from '../real-server.ts';

test('sluice serve with SLUICE_DATABASE_URL processes a clip to COMPLETE, its job in the schema named', async (t) => {
  await requirePostgres();
  let server: RealServer | null = null;
  const schema = freshSchema(t, async () => server?.stop());
  server = await startRealServer(t, {
    env: { SLUICE_DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}` },
  });
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const { jobs } = await server.api.upload(input, 'pg.mp4');
  const id = jobs[0]?.id ?? '';
  const job = await waitFor(`job ${id} to finish`, async () => {
    const j = await server?.api.getJob(id);
    return j && ['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status) && j;
  });
  assert.equal(job.status, 'COMPLETE', `${job.error?.code} ${job.error?.message}`);
  assert.ok(job.outputs.length > 0);
  const rows = await admin((c) => c.query(`SELECT id, status, lease_hash FROM "${schema}".jobs`));
  assert.deepEqual(rows.rows, [{ id, status: 'COMPLETE', lease_hash: null }]);
  const events = await admin((c) =>
    c.query(`SELECT type FROM "${schema}".job_events WHERE job_id = $1 ORDER BY id`, [id]),
  );
  assert.ok(events.rows.some((r) => r.type === 'job:complete'));
  assert.equal(existsSync(path.join(server.dataDir, 'sluice.db')), false, 'no SQLite file made');
  const log = server.logs().find((l) => l.msg === 'job store open');
  assert.equal(log?.store, 'postgres');
  assert.ok(!String(log?.where).includes('password'), 'the URL is logged without secrets');
});
