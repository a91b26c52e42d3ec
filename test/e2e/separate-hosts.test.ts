// Separate hosts, really (issue 9 item 7): two remote workers, each in a network namespace of its own
// (`ip netns`, a veth pair to the root namespace, a private /30), pull from two control planes on one
// PostgreSQL, each control plane a "host" of its own (its own UTS namespace: a host name of its own) sharing
// one data directory. 20 tiny jobs; one worker's link is cut while it holds a job (its lease lapses and the
// job is done elsewhere), and the control plane the workers talk to first is killed with SIGKILL (the
// workers fail over to the other: --server URL1,URL2). Every job ends COMPLETE exactly once, outputs intact.
// Needs root (CAP_NET_ADMIN): skipped, saying what failed, only where `ip netns add` does not work.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ApiClient } from '../../src/cli/api-client.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, waitFor } from '../helpers.ts';
import { admin, freshSchema, requirePostgres, TEST_DATABASE_URL } from '../pg-test-db.ts';
import { freePort, TINY_TEMPLATE } from '../real-server.ts';

const run = promisify(execFile);
const JOBS = 20;

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

interface Proc {
  child: ChildProcess;
  name: string;
  logs(): Record<string, unknown>[];
  exited: Promise<void>;
  kill(): Promise<void>;
}

/** A process in its own group (SIGKILL takes its ffmpeg too), its JSON log lines kept. */
function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let partial = '';
  const lines: Record<string, unknown>[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    name,
    logs: () => lines,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {}
        await exited;
      }
    },
  };
}

/** Environment without any SLUICE_* variable (what a fresh machine has), plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v;
  return { ...env, ...extra };
}

test('separate hosts: 2 workers in network namespaces, 2 control planes on PostgreSQL, a link cut and a control plane killed: 20 jobs COMPLETE exactly once', async (t) => {
  const began = Date.now();
  const tag = `${process.pid}`.slice(-7);
  const spaces = { a: `sluice-${tag}-a`, b: `sluice-${tag}-b` };
  // Namespaces, links and processes are undone in reverse order of their making, even on failure.
  const undo: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const fn of undo.reverse()) await fn().catch(() => {});
  });
  try {
    await ip('netns', 'add', spaces.a);
  } catch (err) {
    const why = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    t.skip(
      `network namespaces cannot be made here (\`ip netns add\` failed: ${why}); needs root or CAP_NET_ADMIN`,
    );
    return;
  }
  undo.push(() => ip('netns', 'del', spaces.a));
  await ip('netns', 'add', spaces.b);
  undo.push(() => ip('netns', 'del', spaces.b));
  await requirePostgres();

  // A private 10.x.y.0/29 for this run: a is .0/30 (root .1, worker .2), b is .4/30 (root .5, worker .6).
  // One no interface of this machine has (another run beside this one, a host network).
  const x = 200 + (process.pid % 50);
  let y = Math.floor(Math.random() * 256);
  for (let i = 0; i < 256; i++, y = (y + 1) % 256) {
    const { stdout } = await run('ip', ['-o', 'addr', 'show', 'to', `10.${x}.${y}.0/24`]);
    if (!stdout.trim()) break;
  }
  const net = (n: number) => `10.${x}.${y}.${n}`;
  const links = {
    a: { root: `sr${tag}a`, inner: `sn${tag}a`, rootAddr: net(1), innerAddr: net(2) },
    b: { root: `sr${tag}b`, inner: `sn${tag}b`, rootAddr: net(5), innerAddr: net(6) },
  };
  for (const side of ['a', 'b'] as const) {
    const l = links[side];
    const ns = spaces[side];
    await ip('link', 'add', l.root, 'type', 'veth', 'peer', 'name', l.inner);
    undo.push(() => ip('link', 'del', l.root)); // gone with its namespace too; this covers a half-made one
    await ip('link', 'set', l.inner, 'netns', ns);
    await ip('addr', 'add', `${l.rootAddr}/30`, 'dev', l.root);
    await ip('link', 'set', l.root, 'up');
    await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${l.innerAddr}/30`, 'dev', l.inner);
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', l.inner, 'up');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    await ip('netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', l.rootAddr);
  }

  // Two control planes, each its own host name (unshare --uts), one data directory, one PostgreSQL schema.
  const procs: Proc[] = [];
  undo.push(async () => {
    for (const p of procs) await p.kill();
  });
  const schema = freshSchema(t, async () => {
    for (const p of procs) await p.kill();
  });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-hosts-'));
  undo.push(() => fs.rm(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  await fs.mkdir(path.join(dataDir, 'templates'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dataDir, 'templates', 'tiny.json'), JSON.stringify(TINY_TEMPLATE), {
    mode: 0o600,
  });
  const serveEnv = cleanEnv({
    SLUICE_DATABASE_URL: `${TEST_DATABASE_URL}?schema=${schema}`,
    SLUICE_LOG_LEVEL: 'info',
    SLUICE_LEASE_SECONDS: '3',
    SLUICE_HEARTBEAT_SECONDS: '0.5',
    SLUICE_SETTLE_MS: '300',
    SLUICE_SCHEDULER_INTERVAL_MS: '100',
    SLUICE_DEFAULT_TEMPLATE: 'tiny',
  });
  const planes: { proc: Proc; port: number }[] = [];
  for (const host of ['cp-1', 'cp-2']) {
    const port = await freePort();
    const proc = start(
      host,
      'unshare',
      [
        '--uts',
        '--',
        'sh',
        '-c',
        'hostname "$0" && exec "$@"',
        host,
        process.execPath,
        SLUICE_BIN,
        'serve',
        '--data-dir',
        dataDir,
        '--host',
        '0.0.0.0',
        '--port',
        String(port),
        '--no-local-workers',
      ],
      serveEnv,
      dataDir,
    );
    procs.push(proc);
    planes.push({ proc, port });
    await waitFor(
      `control plane ${host} up`,
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`${host} exited: ${JSON.stringify(proc.logs().slice(-5))}`);
        return fetch(`http://127.0.0.1:${port}/v1/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
    );
  }
  const [one, two] = planes as [(typeof planes)[0], (typeof planes)[0]];
  const apiToken = (await fs.readFile(path.join(dataDir, 'api-token'), 'utf8')).trim();
  const apiOne = new ApiClient(`http://127.0.0.1:${one.port}`, apiToken);
  const apiTwo = new ApiClient(`http://127.0.0.1:${two.port}`, apiToken);

  // 20 jobs, half submitted through each control plane (the data directory is shared).
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const api = i % 2 === 0 ? apiOne : apiTwo;
    const made = await api.upload(input, `clip-${String(i).padStart(2, '0')}.mp4`);
    ids.push(made.jobs[0]?.id ?? '');
  }
  assert.equal(new Set(ids).size, JOBS);

  // Two workers, each in its namespace, in an empty folder, with no SLUICE_* variable; each knows both
  // control planes through its own link (control plane 1 first).
  const workerTokens: Record<'a' | 'b', string> = { a: '', b: '' };
  const workers: Record<'a' | 'b', Proc> = {} as never;
  for (const side of ['a', 'b'] as const) {
    const made = await apiOne.createWorkerToken();
    workerTokens[side] = made.id;
    const cwd = await fs.mkdtemp(path.join(os.tmpdir(), `sluice-host-${side}-`));
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), `sluice-host-${side}-scratch-`));
    undo.push(() => fs.rm(cwd, { recursive: true, force: true }));
    undo.push(() => fs.rm(scratch, { recursive: true, force: true }));
    const addr = links[side].rootAddr;
    const w = start(
      `worker-${side}`,
      'ip',
      [
        'netns',
        'exec',
        spaces[side],
        process.execPath,
        SLUICE_BIN,
        'worker',
        '--server',
        `http://${addr}:${one.port},http://${addr}:${two.port}`,
        '--token',
        made.token,
        '--concurrency',
        '2',
      ],
      cleanEnv({ SLUICE_LOG_LEVEL: 'info', TMPDIR: scratch }),
      cwd,
    );
    procs.push(w);
    workers[side] = w;
  }

  const claims = () =>
    planes
      .flatMap((p) => p.proc.logs())
      .filter((l) => l.msg === 'job claimed by a remote worker')
      .map((l) => ({ jobId: String(l.jobId), worker: String(l.workerToken), attempt: Number(l.attempt) }));
  const statuses = async () =>
    (
      await admin((c) =>
        c.query<{ id: string; status: string }>(`SELECT id, status FROM "${schema}".jobs ORDER BY id`),
      )
    ).rows;

  // Worker a is encoding a job (it told the server so: phase TRANSCODING): its link is cut at the root
  // side (packets dropped, as a host that vanished).
  const held = await waitFor(
    'worker a to be encoding a job',
    async () => {
      const mine = claims()
        .filter((c) => c.worker === workerTokens.a)
        .map((c) => c.jobId);
      if (mine.length === 0) return null;
      const rows = await admin((c) =>
        c.query<{ id: string }>(
          `SELECT id FROM "${schema}".jobs WHERE status = 'PROGRESSING' AND phase = 'TRANSCODING' AND id = ANY($1)`,
          [mine],
        ),
      );
      return rows.rows[0];
    },
    30_000,
  );
  await ip('link', 'set', links.a.root, 'down');
  const cutAt = Date.now();
  const heldByA = claims()
    .filter((c) => c.worker === workerTokens.a)
    .map((c) => c.jobId);
  const doneAtCut = (await statuses()).filter((s) => s.status === 'COMPLETE').map((s) => s.id);
  const stranded = heldByA.filter((id) => !doneAtCut.includes(id));
  assert.ok(stranded.includes(held.id), `worker a was encoding ${held.id} when cut`);

  // Some jobs later, control plane 1 (the first the workers try) is killed.
  await waitFor(
    'a few jobs to complete after the cut',
    async () => (await statuses()).filter((s) => s.status === 'COMPLETE').length >= doneAtCut.length + 4,
    45_000,
  );
  await one.proc.kill();
  // Worker a's link comes back once the job it was encoding was started again elsewhere (its lease
  // lapsed, or the surviving leader released the attempt it inherited): what worker a still sends for
  // that attempt is refused. Back sooner, within the lease, it could rightly have finished it itself.
  const startsOf = async (id: string) =>
    Number(
      (
        await admin((c) =>
          c.query<{ n: string }>(
            `SELECT count(*) AS n FROM "${schema}".job_events WHERE job_id = $1 AND type = 'job:started'`,
            [id],
          ),
        )
      ).rows[0]?.n,
    );
  await waitFor(`${held.id} to be started again`, async () => (await startsOf(held.id)) >= 2, 45_000);
  const cutFor = Date.now() - cutAt;
  await ip('link', 'set', links.a.root, 'up');

  const final = await waitFor(
    'every job to finish',
    async () => {
      const rows = await statuses();
      return rows.length === JOBS && rows.every((r) => ['COMPLETE', 'ERROR', 'CANCELED'].includes(r.status))
        ? rows
        : null;
    },
    60_000,
  ).catch(async (err) => {
    // What was left, and what the workers and the surviving control plane last said.
    const left = await admin((c) =>
      c.query(
        `SELECT j.id, j.status, j.phase, j.attempts, j.lease_until, j.run_after,
                (SELECT string_agg(e.type || '@' || e.at, ' ' ORDER BY e.id) FROM "${schema}".job_events e
                  WHERE e.job_id = j.id) AS events
           FROM "${schema}".jobs j WHERE j.status NOT IN ('COMPLETE', 'ERROR', 'CANCELED')`,
      ),
    ).catch((e: Error) => ({ rows: [e.message] }));
    const tail = (p: Proc) =>
      p
        .logs()
        .slice(-15)
        .map((l) => `  ${p.name}: ${JSON.stringify(l)}`)
        .join('\n');
    process.stderr.write(
      `# left: ${JSON.stringify(left.rows, null, 1)}\n${[workers.a, workers.b, two.proc].map(tail).join('\n')}\n`,
    );
    throw err;
  });
  assert.deepEqual(
    final.filter((r) => r.status !== 'COMPLETE'),
    [],
    'every job COMPLETE',
  );
  assert.deepEqual(final.map((r) => r.id).sort(), [...ids].sort(), 'the 20 jobs, no other');

  // Exactly once: one job:complete event per job.
  const events = (
    await admin((c) =>
      c.query<{ job_id: string; type: string }>(
        `SELECT job_id, type FROM "${schema}".job_events ORDER BY id`,
      ),
    )
  ).rows;
  for (const id of ids) {
    assert.equal(
      events.filter((e) => e.job_id === id && e.type === 'job:complete').length,
      1,
      `${id} completed exactly once`,
    );
  }
  // The job worker a was encoding when cut was started again and completed by another attempt.
  const starts = events.filter((e) => e.job_id === held.id && e.type === 'job:started').length;
  assert.ok(starts >= 2, `${held.id}, cut off mid-encode, was redone (started ${starts} times)`);
  // Both workers moved to control plane 2 when control plane 1 died (or was cut off).
  for (const side of ['a', 'b'] as const) {
    assert.ok(
      workers[side].logs().some((l) => l.msg === 'a control plane did not answer: calls go to the next one'),
      `worker ${side} failed over`,
    );
  }

  // Outputs intact, read through the surviving control plane's view and on its data directory.
  for (const id of ids) {
    const job = await apiTwo.getJob(id);
    assert.equal(job.status, 'COMPLETE');
    const set = path.join(dataDir, 'buckets', job.destination.bucket, ...job.destination.prefix.split('/'));
    const files = await fs.readdir(set);
    for (const f of ['master.m3u8', 'manifest.mpd'])
      assert.ok(files.includes(f), `${id}: ${f} in ${files.join(', ')}`);
    // The entry point names one attempt's version folder, and every playlist it names is there.
    const master = await fs.readFile(path.join(set, 'master.m3u8'), 'utf8');
    for (const line of master.split('\n').filter((l) => l && !l.startsWith('#')))
      assert.ok(await fs.stat(path.join(set, line)).catch(() => null), `${id}: ${line} exists`);
    const mp4 = job.outputs.find((o) => o.key.endsWith('.mp4'));
    assert.ok(mp4, `${id} lists an MP4`);
    const file = path.join(dataDir, 'buckets', mp4.bucket, ...mp4.key.split('/'));
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration',
      '-of',
      'csv=p=0',
      file,
    ]);
    const seconds = Number(stdout.trim());
    assert.ok(seconds > 0.8 && seconds < 1.3, `${id}: the MP4 lasts ~1 s (${seconds})`);
  }
  process.stderr.write(
    `# separate hosts: ${JOBS} jobs, 2 workers in namespaces, 2 control planes: ${((Date.now() - began) / 1000).toFixed(1)} s (worker a cut off for ${(cutFor / 1000).toFixed(1)} s)\n`,
  );
});
