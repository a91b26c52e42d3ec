// Quiet, useful output (issue 8, item 6), against a real `sluice serve`: request logs are debug, not info;
// the CLI writes no colour codes into a pipe; `jobs --limit`; a unique job id prefix works where an id does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { clip, waitFor } from '../helpers.ts';
import { startRealServer } from '../real-server.ts';

const run = promisify(execFile);
// biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI escape is what must not appear
const ANSI = /\u001b\[/;

test('real sluice serve at the default level logs no line per request; the CLI prints no colour codes into a pipe', async (t) => {
  const server = await startRealServer(t);
  const before = server.logs().length;
  for (let i = 0; i < 20; i++) await fetch(`${server.url}/v1/health`);
  // Wait on something the server does log: a job made by an upload, then its completion.
  const { jobs } = await server.api.upload(await clip({ width: 160, height: 90, seconds: 1 }), 'a.mp4');
  await waitFor('complete', async () => (await server.api.getJob(jobs[0]?.id ?? '')).status === 'COMPLETE');
  const lines = server.logs().slice(before);
  const requests = lines.filter((l) => /incoming request|request completed/.test(String(l.msg)));
  assert.deepEqual(
    requests.filter((l) => Number(l.level) >= 30),
    [],
    'no request lines at info: 20 health checks and a job with its heartbeats',
  );
  // Every line the server wrote since it started is a pino record: no Node or library warning (a
  // deprecation, say) slips out beside them.
  assert.deepEqual(
    server.logs().filter((l) => !('level' in l)),
    [],
    'stderr holds only structured log lines',
  );
  const env = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
  const table = await run(process.execPath, [SLUICE_BIN, '--server', server.url, 'jobs'], { env });
  assert.match(table.stdout, /a\.mp4/);
  assert.doesNotMatch(table.stdout, ANSI, 'no colour codes into a pipe');
  const shown = await run(process.execPath, [SLUICE_BIN, '--server', server.url, 'job', jobs[0]?.id ?? ''], {
    env,
  });
  assert.doesNotMatch(shown.stdout + shown.stderr, ANSI);
});

test('real sluice serve: jobs --limit N, and a unique id prefix in place of an id (an ambiguous one is refused)', async (t) => {
  const server = await startRealServer(t);
  const input = await clip({ width: 160, height: 90, seconds: 1 });
  const ids: string[] = [];
  for (const key of ['a.mp4', 'b.mp4', 'c.mp4'])
    ids.push((await server.api.upload(input, key)).jobs[0]?.id ?? '');
  const env = { ...process.env, SLUICE_LOG_LEVEL: 'silent' };
  const cli = (...args: string[]) =>
    run(process.execPath, [SLUICE_BIN, '--server', server.url, ...args], { env });
  const limited = await cli('jobs', '--limit', '2', '--json');
  assert.equal((JSON.parse(limited.stdout) as unknown[]).length, 2);

  // Ids are time-ordered: the three share a long prefix; the whole id minus its last 3 characters is unique.
  const id = ids[2] ?? '';
  const prefix = id.slice(0, -3);
  const shown = await cli('job', prefix, '--json');
  assert.equal(JSON.parse(shown.stdout).id, id);
  const api = await fetch(`${server.url}/v1/jobs/${prefix}`);
  assert.equal(api.status, 200);
  assert.equal(((await api.json()) as { id: string }).id, id);

  const common = 'job_';
  const ambiguous = await cli('job', common).catch((e) => e);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /AMBIGUOUS_JOB_ID/);
  const tooShort = await fetch(`${server.url}/v1/jobs/job_01`);
  assert.equal(((await tooShort.json()) as { code: string }).code, 'AMBIGUOUS_JOB_ID');
});
