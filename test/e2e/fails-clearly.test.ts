// Issue 8 point 5, "fails clearly", against real processes: a port in use, a second server on the same
// data directory, a CLI pointed at something that is not Sluice, and a failed job that must not show
// the server's scratch paths. (Signals through `npx` are in npx-signals.test.ts.)
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { freePort, startRealServer } from '../real-server.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One `sluice` command run to its end, as a user runs it. */
function sluice(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SLUICE_BIN, ...args],
      { env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** No INTERNAL, no stack trace (neither printed nor as a logged JSON `err.stack`). */
function assertClear(r: Run, code: string) {
  assert.equal(r.code, 1, `exit code 1 (user error), got ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, new RegExp(`sluice: ${code}: `));
  assert.doesNotMatch(r.stderr, /INTERNAL/);
  assert.doesNotMatch(r.stderr, /"stack"|\n\s+at /);
}

test('serve on an address this machine does not have names it and what to do (ADDRESS_NOT_AVAILABLE)', async (t) => {
  const dataDir = await tempDir(t);
  // 192.0.2.0/24 is TEST-NET-1: documentation only, on no interface here.
  const r = await sluice(['serve', '--data-dir', dataDir, '--host', '192.0.2.1', '--port', '0']);
  assertClear(r, 'ADDRESS_NOT_AVAILABLE');
  assert.match(r.stderr, /192\.0\.2\.1/);
  assert.match(r.stderr, /--host/);
});

test('serve on a port in use names the port and what to do', async (t) => {
  const dataDir = await tempDir(t);
  const port = await freePort();
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
  t.after(() => new Promise((r) => holder.close(r)));

  const r = await sluice(['serve', '--data-dir', dataDir, '--port', String(port)]);
  assertClear(r, 'PORT_IN_USE');
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(r.stderr, /--port/);
  // It left nothing claiming the data directory: a server can start there on a free port.
  assert.equal(await fs.stat(path.join(dataDir, 'server.json')).catch(() => null), null);
  const again = await startRealServer(t, { dataDir });
  assert.ok((await fetch(`${again.url}/v1/health`)).ok);
});

test('a second serve on the same data directory refuses; the first keeps its server.json', async (t) => {
  const first = await startRealServer(t);
  const serverJson = path.join(first.dataDir, 'server.json');
  const before = await fs.readFile(serverJson, 'utf8');
  const firstPid = (JSON.parse(before) as { pid: number }).pid;

  const r = await sluice(['serve', '--data-dir', first.dataDir, '--port', String(await freePort())]);
  assertClear(r, 'DATA_DIR_IN_USE');
  assert.match(r.stderr, new RegExp(`pid ${firstPid}`));
  assert.equal(await fs.readFile(serverJson, 'utf8'), before, 'server.json is still the first one');
  assert.ok((await fetch(`${first.url}/v1/health`)).ok, 'the first server still serves');

  // `sluice demo` runs its own service in the data directory: refused the same way.
  const demo = await sluice(['demo', '--data-dir', first.dataDir]);
  assertClear(demo, 'DATA_DIR_IN_USE');

  // A server killed with SIGKILL leaves its lock behind: the next start takes it over.
  await first.stop();
  const next = await startRealServer(t, { dataDir: first.dataDir });
  assert.ok((await fetch(`${next.url}/v1/health`)).ok);
});

test('a lock whose pid now belongs to an unrelated process (a recycled pid) is taken over', async (t) => {
  const dataDir = await tempDir(t);
  // A live process that is not a Sluice server, named by a lock that recorded another start time: the
  // server that wrote it is gone and the kernel gave its pid to this one.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  await fs.writeFile(
    path.join(dataDir, 'serve.lock'),
    JSON.stringify({ pid: other.pid, host: os.hostname(), start: '1' }),
  );
  const server = await startRealServer(t, { dataDir });
  assert.ok((await fetch(`${server.url}/v1/health`)).ok);
  const lock = JSON.parse(await fs.readFile(path.join(dataDir, 'serve.lock'), 'utf8')) as { pid: number };
  assert.notEqual(lock.pid, other.pid, 'the new server holds the lock');
});

test('the CLI pointed at something that is not Sluice says so', async (t) => {
  const pages = http.createServer((req, res) => {
    if (req.url?.startsWith('/v1/jobs/')) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html>Not Found</html>');
    } else if (req.url?.startsWith('/v1/jobs')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a web site</html>');
    }
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => pages.close(r)));
  const url = `http://127.0.0.1:${(pages.address() as net.AddressInfo).port}`;

  for (const args of [['jobs'], ['job', 'j_123'], ['cancel', 'j_123'], ['jobs', '--json']]) {
    const r = await sluice([...args, '--server', url]);
    assertClear(r, 'NOT_SLUICE');
    assert.ok(r.stderr.includes(url), `names the URL: ${r.stderr}`);
  }
});

test('a failed job shows the object, not the server scratch path', async (t) => {
  const server = await startRealServer(t);
  await fs.writeFile(path.join(server.source, 'broken.mp4'), Buffer.alloc(4096, 0x5a));
  const job = await waitFor('job failed', async () => {
    const { jobs } = await server.api.listJobs();
    return jobs.find((j) => j.status === 'ERROR');
  });
  assert.equal(job.error?.code, 'INPUT_UNREADABLE');
  const body = await (await fetch(`${server.url}/v1/jobs/${job.id}`)).text();
  assert.ok(!body.includes(server.dataDir), `the API shows no server path: ${body}`);
  assert.doesNotMatch(body, /sluice-j|input\.mp4/);
  assert.match(job.error?.message ?? '', /source\/broken\.mp4/);

  const shown = await sluice(['job', job.id, '--server', server.url]);
  assert.equal(shown.code, 0);
  assert.ok(!shown.stdout.includes(server.dataDir), `the CLI shows no server path: ${shown.stdout}`);
});
