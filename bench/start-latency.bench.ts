// `npm run bench:start`: how fast an upload becomes a running ffmpeg. A real `sluice serve` takes
// BENCH_UPLOADS (default 20) uploads of a small clip one after another; each job's own events give the
// phases: accepted (job:created) -> claimed (scheduler) -> worker up (job:started) -> ffmpeg running
// (phase TRANSCODING, after download + probe). Run twice in the same session: with the compiled build
// (what `npm ci` makes, with Node's compile cache), the same build with NODE_DISABLE_COMPILE_CACHE=1, and
// SLUICE_DEV=1 (TypeScript through tsx, the old way), printed as ratios.
// Also `sluice --help` wall time, p50 of 10.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../src/cli/api-client.ts';
import { SLUICE_BIN } from '../src/launchers/local-process-launcher.ts';
import { makeSampleClip } from '../src/media/sample-clip.ts';
import { freePort } from '../test/real-server.ts';

const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 20);
const run = promisify(execFile);

type Events = { events: { type: string; at: string; data: { phase?: string } }[] };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function helpTime(env: NodeJS.ProcessEnv): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await run(process.execPath, [SLUICE_BIN, '--help'], { env });
    times.push(performance.now() - t0);
  }
  return pct(times, 50) / 1000;
}

async function measure(label: string, env: NodeJS.ProcessEnv, clip: string) {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-start-'));
  await fs.mkdir(path.join(dataDir, 'templates'));
  await fs.writeFile(
    path.join(dataDir, 'templates', 'quick.json'),
    JSON.stringify({
      ladder: [{ name: '180p', height: 180, videoBitrateKbps: 300 }],
      video: { preset: 'ultrafast' },
    }),
  );
  const port = await freePort();
  const server = spawn(
    process.execPath,
    [SLUICE_BIN, 'serve', '--data-dir', dataDir, '--port', String(port), '--concurrency', '1'],
    { stdio: 'ignore', env: { ...env, SLUICE_LOG_LEVEL: 'warn', SLUICE_DEFAULT_TEMPLATE: 'quick' } },
  );
  const api = new ApiClient(`http://127.0.0.1:${port}`);
  for (;;) {
    if (
      await fetch(`${api.baseUrl}/v1/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const phases = {
    claim: [] as number[],
    worker: [] as number[],
    probe: [] as number[],
    total: [] as number[],
  };
  for (let i = 0; i < UPLOADS; i++) {
    const { jobs } = await api.upload(clip, `u${i}.mp4`);
    const id = jobs[0]?.id ?? '';
    for (;;) {
      const j = await api.getJob(id);
      if (['COMPLETE', 'ERROR', 'CANCELED'].includes(j.status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { events } = (await (await fetch(`${api.baseUrl}/v1/jobs/${id}/events`)).json()) as Events;
    const at = (pred: (e: Events['events'][number]) => boolean) => Date.parse(events.find(pred)?.at ?? '');
    const created = at((e) => e.type === 'job:created');
    const claimed = at((e) => e.type === 'job:claimed');
    const started = at((e) => e.type === 'job:started');
    const transcoding = at((e) => e.type === 'job:phase' && e.data.phase === 'TRANSCODING');
    phases.claim.push((claimed - created) / 1000);
    phases.worker.push((started - claimed) / 1000);
    phases.probe.push((transcoding - started) / 1000);
    phases.total.push((transcoding - created) / 1000);
  }
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await fs.rm(dataDir, { recursive: true, force: true });
  const help = await helpTime(env);
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(3)} s  p95 ${pct(xs, 95).toFixed(3)} s`;
  console.log(`${label}: upload accepted -> ffmpeg running over ${UPLOADS} uploads`);
  console.log(`  total            ${f(phases.total)}`);
  console.log(`  claim            ${f(phases.claim)}`);
  console.log(`  worker start     ${f(phases.worker)}`);
  console.log(`  download+probe   ${f(phases.probe)}`);
  console.log(`  sluice --help    p50 ${help.toFixed(3)} s`);
  return { total: pct(phases.total, 50), worker: pct(phases.worker, 50), help };
}

const clipDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-bench-clip-'));
const clip = await makeSampleClip(path.join(clipDir, 'clip.mp4'), { width: 320, height: 180, seconds: 1 });
const built = await measure('compiled (dist/) + compile cache', { ...process.env }, clip);
const uncached = await measure(
  'compiled, no compile cache (NODE_DISABLE_COMPILE_CACHE=1)',
  { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
  clip,
);
const dev = await measure('sources through tsx (SLUICE_DEV=1)', { ...process.env, SLUICE_DEV: '1' }, clip);
const ratio = (a: typeof built, b: typeof built) =>
  `total p50 ${(a.total / b.total).toFixed(2)}, worker start ${(a.worker / b.worker).toFixed(2)}, --help ${(a.help / b.help).toFixed(2)}`;
console.log(`ratios compiled+cache/tsx: ${ratio(built, dev)}`);
console.log(`ratios compiled+cache/compiled: ${ratio(built, uncached)}`);
await fs.rm(clipDir, { recursive: true, force: true });
