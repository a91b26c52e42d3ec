// Leadership on the machine's PostgreSQL: of several replicas on one schema exactly one leads; one that
// gives up (close) or whose connection is cut (pg_terminate_backend, as a dead host's session ends) hands
// leadership to the next that asks, and the one cut off says so on its next check. Another schema has a
// leader of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { PostgresLeadership } from '../../src/jobs/postgres-leadership.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';

function replicas(t: Parameters<typeof freshSchema>[0], schema: string, names: string[]) {
  const lines: { msg: string; instance: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const all = names.map(
    (instance) =>
      new PostgresLeadership({ connectionString: TEST_DATABASE_URL, schema, instance, timeoutMs: 5000, log }),
  );
  t.after(async () => {
    for (const l of all) await l.close();
  });
  return { all, lines };
}

const leaders = async (all: PostgresLeadership[]) =>
  (await Promise.all(all.map((l) => l.isLeader()))).flatMap((lead, i) => (lead ? [i] : []));

test('exactly one of three replicas leads; close hands it on; another schema leads apart', async (t) => {
  await requirePostgres();
  const schema = freshSchema(t);
  const { all, lines } = replicas(t, schema, ['r0', 'r1', 'r2']);
  const first = await leaders(all);
  assert.equal(first.length, 1, `one leader: ${first}`);
  // Asked again and again, the same one, alone.
  for (let i = 0; i < 5; i++) assert.deepEqual(await leaders(all), first);
  const leader = all[first[0] as number] as PostgresLeadership;
  await leader.close();
  assert.equal(await leader.isLeader(), false, 'closed: never leads again');
  const next = await leaders(all);
  assert.equal(next.length, 1);
  assert.notDeepEqual(next, first);
  assert.deepEqual(
    lines.filter((l) => l.msg !== 'leadership lost').map((l) => [l.msg, l.instance]),
    [
      ['leadership gained', `r${first[0]}`],
      ['leadership released', `r${first[0]}`],
      ['leadership gained', `r${next[0]}`],
    ],
  );
  // Another schema is another set of control planes.
  const other = replicas(t, freshSchema(t), ['o0']);
  assert.deepEqual(await leaders(other.all), [0]);
});

test('a leader whose connection is cut loses leadership on its next check; then exactly one leads again', async (t) => {
  await requirePostgres();
  const schema = freshSchema(t);
  const { all, lines } = replicas(t, schema, ['cut-a', 'cut-b']);
  const [first] = await leaders(all);
  assert.ok(first !== undefined);
  const name = `cut-${first === 0 ? 'a' : 'b'}`;
  const killed = await admin((c) =>
    c.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1', [
      `sluice-leader:${name}`,
    ]),
  );
  assert.equal(killed.rowCount, 1, 'the leader lock has its own connection');
  // (Waited for: the session is gone.) Its next check finds the connection gone: not the leader, and it says so.
  assert.equal(await (all[first] as PostgresLeadership).isLeader(), false);
  assert.ok(lines.some((l) => l.msg === 'leadership lost' && l.instance === name));
  // Once PostgreSQL has ended that session, exactly one leads again (whichever asks first).
  let now = await leaders(all);
  for (let i = 0; i < 50 && now.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    now = await leaders(all);
  }
  assert.equal(now.length, 1, `one leader again: ${now}`);
  assert.deepEqual(await leaders(all), now);
});
