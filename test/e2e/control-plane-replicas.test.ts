// Two `sluice serve` replicas on one PostgreSQL schema and one shared data directory, as the Kubernetes
// control plane runs them: the work is shared (each job claimed once per attempt, completed once), the
// files both watchers see make one job each (the ingest ledger is in the database), exactly one replica
// leads at a time, and when the leader is SIGKILLed with a job just handed to its local worker the
// survivor takes leadership, puts that job back (its worker can reach no server) and runs it.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { clip, waitFor } from '../helpers.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { type RealServer, startRealServer } from '../real-server.ts';

interface Health {
  leader?: boolean;
  instance?: string;
}

async function health(s: RealServer): Promise<Health | null> {
  return fetch(`${s.url}/v1/health`).then(
    (r) => r.json() as Promise<Health>,
    () => null,
  );
}

/** The instances holding the leader lock, as PostgreSQL sees them (the lock's own connection). */
async function lockHolders(instances: string[]): Promise<string[]> {
  const r = await admin((c) =>
    c.query<{ name: string }>(
      `SELECT DISTINCT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY($1)`,
      [instances.map((i) => `sluice-leader:${i}`.slice(0, 63))],
    ),
  );
  return r.rows.map((row) => row.name.slice('sluice-leader:'.length));
}

async function eventsOf(schema: string, id: string): Promise<{ type: string }[]> {
  const r = await admin((c) =>
    c.query<{ type: string }>(`SELECT type FROM "${schema}".job_events WHERE job_id = $1 ORDER BY id`, [id]),
  );
  return r.rows;
}

/** Each claim is ended (completed, put back, retried, failed) before the next: never two holders at once. */
function assertOneClaimPerAttempt(id: string, events: { type: string }[]): void {
  const ends = new Set(['job:complete', 'job:released', 'job:retry', 'job:error', 'job:preempted']);
  let open = false;
  for (const e of events) {
    if (e.type === 'job:claimed') {
      assert.equal(open, false, `${id} claimed again while claimed: ${events.map((x) => x.type)}`);
      open = true;
    } else if (ends.has(e.type)) {
      assert.equal(open, true, `${id}: ${e.type} without a claim`);
      open = false;
    }
  }
  assert.equal(events.filter((e) => e.type === 'job:complete').length, 1, `${id} completed once`);
}

/** Worker processes started for `jobId` by the server at `url` (found by their command lines). */
async function workersOf(url: string, jobId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const args = cmd.split('\0');
    if (args.includes('worker') && args.includes(url) && args.includes(jobId)) pids.push(Number(name));
  }
  return pids;
}

const launched = (s: RealServer) =>
  s
    .logs()
    .filter((l) => l.msg === 'worker launched')
    .map((l) => String(l.jobId));

test('two control planes share the work and the data directory; the survivor of a SIGKILLed leader leads and recovers its job', {
  timeout: 120_000,
}, async (t) => {
  await requirePostgres();
  const servers: RealServer[] = [];
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-replicas-'));
  const orphans: number[] = [];
  const schema = freshSchema(t, async () => {
    for (const s of servers) await s.stop();
    // The worker of the killed leader (its own process group) gives up by itself; not left to do so.
    for (const pid of orphans) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });
  const env = { SLUICE_DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}`, SLUICE_LEASE_SECONDS: '3' };
  const a = await startRealServer(t, { env, dataDir });
  servers.push(a);
  const b = await startRealServer(t, { env, dataDir });
  servers.push(b);

  // Exactly one leads, by its health and by PostgreSQL's locks, every time it is asked.
  const both = await waitFor('a leader', async () => {
    const hs = await Promise.all(servers.map(health));
    return hs.some((h) => h?.leader) && hs;
  });
  const instances = both.map((h) => String(h?.instance));
  assert.notEqual(instances[0], instances[1], 'each replica names itself');
  for (let i = 0; i < 10; i++) {
    const hs = await Promise.all(servers.map(health));
    assert.equal(hs.filter((h) => h?.leader === true).length, 1, `exactly one leader: ${JSON.stringify(hs)}`);
    const holders = await lockHolders(instances);
    assert.deepEqual(holders, [String(hs.find((h) => h?.leader)?.instance)], 'the leader holds the lock');
    await new Promise((r) => setTimeout(r, 100));
  }
  const serverJson = JSON.parse(await fs.readFile(path.join(dataDir, 'server.json'), 'utf8')) as {
    instance: string;
  };
  assert.ok(instances.includes(serverJson.instance), 'server.json names one of the replicas');

  // 10 uploads split across the replicas, and 2 files dropped into the folder both of them watch.
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const uploaded: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { jobs } = await (servers[i % 2] as RealServer).api.upload(input, `up-${i}.mp4`);
    assert.equal(jobs.length, 1);
    uploaded.push(jobs[0]?.id ?? '');
  }
  for (const name of ['dropped-0.mp4', 'dropped-1.mp4']) {
    await fs.copyFile(input, path.join(a.source, `.${name}.part`));
    await fs.rename(path.join(a.source, `.${name}.part`), path.join(a.source, name));
  }
  const done = await waitFor(
    '12 jobs COMPLETE',
    async () => {
      const jobs = (await a.api.listJobs(undefined, 100)).jobs;
      return jobs.length >= 12 && jobs.every((j) => j.status === 'COMPLETE') && jobs;
    },
    60_000,
  );
  assert.equal(done.length, 12, 'one job per object version, though both replicas saw every file');
  const keys = done.map((j) => j.input.key).sort();
  assert.deepEqual(keys, [...new Set(keys)], 'no object made two jobs');
  for (const id of uploaded) assert.ok(done.some((j) => j.id === id));
  for (const j of done) {
    const events = await eventsOf(schema, j.id);
    assertOneClaimPerAttempt(j.id, events);
    assert.equal(events.filter((e) => e.type === 'job:claimed').length, 1, `${j.id} claimed once`);
  }
  const byA = launched(a);
  const byB = launched(b);
  assert.equal(byA.length + byB.length, 12, 'every job launched once across the replicas');
  assert.ok(byA.length > 0 && byB.length > 0, `both replicas ran work (${byA.length}, ${byB.length})`);

  // Kill the leader the moment it hands a job to its local worker: that worker can reach no server.
  const hs = await Promise.all(servers.map(health));
  const leader = hs[0]?.leader ? a : b;
  const survivor = leader === a ? b : a;
  const before = launched(leader).length;
  const more: string[] = [];
  for (let i = 0; i < 2; i++) {
    more.push((await leader.api.upload(input, `late-${i}.mp4`)).jobs[0]?.id ?? '');
  }
  const victim = await waitFor('the leader to launch a worker', async () => launched(leader)[before], 30_000);
  await leader.stop();
  const victimJob = await survivor.api.getJob(victim);
  assert.equal(victimJob.status, 'PROGRESSING', 'the killed leader left its job running');
  orphans.push(...(await workersOf(leader.url, victim)));

  await waitFor('the survivor to lead', async () => (await health(survivor))?.leader === true, 30_000);
  assert.deepEqual(await lockHolders(instances), [String((await health(survivor))?.instance)]);
  assert.ok(survivor.logs().some((l) => l.msg === 'leadership gained'));
  const finished = await waitFor(
    'the late jobs COMPLETE',
    async () => {
      const jobs = await Promise.all(more.map((id) => survivor.api.getJob(id)));
      return jobs.every((j) => j.status === 'COMPLETE') && jobs;
    },
    60_000,
  );
  assert.equal(finished.length, 2);
  // The survivor, on gaining leadership, inherited the attempt the dead replica had handed out; its worker
  // never checked in (it knows only the dead server), so the job was put back without charge.
  assert.ok(
    survivor
      .logs()
      .some((l) => l.jobId === victim && l.msg === 'inherited attempt never checked in; job released'),
    'the survivor expired the lapsed lease',
  );
  assert.equal((await survivor.api.getJob(victim)).attempts, 1, 'the lost attempt was not charged');
  const events = await eventsOf(schema, victim);
  assertOneClaimPerAttempt(victim, events);
  assert.ok(events.some((e) => e.type === 'job:inherited'));
  assert.equal(events.filter((e) => e.type === 'job:claimed').length, 2, 'claimed again after the loss');
  assert.ok(launched(survivor).includes(victim), 'the survivor ran it');
});
