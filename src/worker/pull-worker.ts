// A remote pull worker (`sluice worker --server URL --token TOKEN`): a long-lived process on any machine
// with ffmpeg. It claims work from the control plane (a long poll on POST /v1/worker/claim), runs up to
// `concurrency` attempts at once, each exactly as a launched worker runs its one (runAttempt: the same
// heartbeats, leases and fencing), reading and writing only through the URLs the assignment grants.
// SIGTERM/SIGINT: it stops claiming, lets each running attempt handle the signal itself, then exits.
// Several control planes (`--server URL1,URL2`, replicas on one PostgreSQL) are one ServerList: claims,
// heartbeats, results and storage calls go to the current one and move to the next on a connection error
// (server-list.ts). When none answers, claims are retried with jittered exponential backoff; a refused token
// (WORKER_TOKEN_INVALID, WORKER_TOKEN_REVOKED, WORKER_POOL_MISMATCH) stops the worker with that code.
import type { Logger } from 'pino';
import { isErrorCode, SluiceError, toSluiceError } from '../errors.ts';
import { RemoteObjectStore } from './remote-object-store.ts';
import { ServerList } from './server-list.ts';
import { runAttempt } from './worker.ts';
import { type Assignment, MAX_CLAIM_WAIT_SECONDS, WorkerApiClient } from './worker-api-client.ts';

export interface PullWorkerOptions {
  /** The control plane, or its replicas: a comma-separated list, or the list itself, or a ServerList. */
  server: string | readonly string[] | ServerList;
  /** The worker token (`sluice workers token create`). */
  token: string;
  /** Must be the token's pool when given (the server refuses another). */
  pool?: string;
  concurrency: number;
  log: Logger;
  /** Where attempts keep their scratch folders (default: the OS temp folder). */
  scratchDir?: string;
}

type PulledAssignment = Assignment & Required<Pick<Assignment, 'leaseToken' | 'storage'>>;

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Codes after which claiming again would be refused the same way: the worker stops. */
const FATAL = new Set([
  'WORKER_TOKEN_INVALID',
  'WORKER_TOKEN_REVOKED',
  'WORKER_POOL_MISMATCH',
  'UNAUTHORIZED',
]);

/** Resolves when stopped by a signal (after the running attempts ended); rejects on a refused token. */
export async function runPullWorker(o: PullWorkerOptions): Promise<void> {
  const log = o.log.child({ component: 'pull-worker' });
  const servers = o.server instanceof ServerList ? o.server : new ServerList(o.server);
  servers.onSwitch = (from, to, reason) =>
    log.warn({ from, to, reason }, 'a control plane did not answer: calls go to the next one');
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    if (stop.signal.aborted) return;
    log.info({ signal, running: running.size }, 'stopping: no more claims; running attempts end first');
    stop.abort();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  // Each running attempt listens for the signals too (runAttempt), so N attempts are 2N + 2 listeners.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 2 * o.concurrency + 10));
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const running = new Set<Promise<void>>();
  const stopped = aborted(stop.signal);
  let failures = 0;
  let fatal: SluiceError | null = null;
  log.info(
    { server: servers.toString(), pool: o.pool ?? '(the token’s)', concurrency: o.concurrency },
    'pull worker started',
  );
  try {
    while (!stop.signal.aborted) {
      if (running.size >= o.concurrency) {
        await Promise.race([...running, stopped]);
        continue;
      }
      let answer: { assignment: PulledAssignment | null; retryAfterMs: number };
      try {
        answer = await claim(o, servers, stop.signal);
        failures = 0;
      } catch (err) {
        if (stop.signal.aborted) break;
        const e = toSluiceError(err);
        if (FATAL.has(e.code)) {
          fatal = e;
          log.error({ code: e.code, err: e.message }, 'the server refused this worker; it stops claiming');
          break;
        }
        const delay = Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures);
        failures++;
        log.warn({ code: e.code, err: e.message, retryInMs: Math.round(delay) }, 'claim failed; will retry');
        await sleep(delay, stop.signal);
        continue;
      }
      const a = answer.assignment;
      if (!a) {
        if (answer.retryAfterMs > 0) await sleep(answer.retryAfterMs, stop.signal);
        continue;
      }
      const attempt = runOne(o, servers, a, log).finally(() => running.delete(attempt));
      running.add(attempt);
    }
  } finally {
    // A second signal while attempts finish is the default one again: the process ends at once.
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
  }
  await Promise.all(running);
  log.info('pull worker stopped');
  if (fatal) throw fatal;
}

async function runOne(
  o: PullWorkerOptions,
  servers: ServerList,
  a: PulledAssignment,
  log: Logger,
): Promise<void> {
  const api = new WorkerApiClient(servers, a.job.id, a.leaseToken);
  api.adopt(a);
  const objects = new RemoteObjectStore(servers, a.storage, a.leaseToken, a.job.input, o.scratchDir);
  try {
    const result = await runAttempt({ assignment: a, api, objects, log });
    log.info({ jobId: a.job.id, attempt: a.job.attempt, result }, 'attempt ended');
  } catch (err) {
    log.error({ jobId: a.job.id, err: (err as Error).message }, 'attempt could not run');
  }
}

async function claim(
  o: PullWorkerOptions,
  servers: ServerList,
  stop: AbortSignal,
): Promise<{ assignment: PulledAssignment | null; retryAfterMs: number }> {
  let res: Response;
  try {
    res = await servers.fetch(
      '/v1/worker/claim',
      () => ({
        method: 'POST',
        headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ waitSeconds: MAX_CLAIM_WAIT_SECONDS, ...(o.pool ? { pool: o.pool } : {}) }),
      }),
      { signal: stop, timeoutMs: (MAX_CLAIM_WAIT_SECONDS + 15) * 1000, what: 'claim' },
    );
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('SERVER_UNREACHABLE', `claim failed: ${(err as Error).message} (${servers})`);
  }
  if (res.status === 204) {
    return { assignment: null, retryAfterMs: Number(res.headers.get('retry-after') ?? 0) * 1000 || 0 };
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const code = isErrorCode(body.code) ? body.code : res.status >= 500 ? 'SERVER_UNREACHABLE' : 'INTERNAL';
    throw new SluiceError(code, String(body.detail ?? `claim answered ${res.status}`));
  }
  const a = body as unknown as PulledAssignment;
  if (typeof a.leaseToken !== 'string' || !a.storage || !a.job?.id)
    throw new SluiceError('NOT_SLUICE', `${servers.url} answered a claim without an assignment`);
  return { assignment: a, retryAfterMs: 0 };
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    }
    stop.addEventListener('abort', done, { once: true });
  });
}

function aborted(stop: AbortSignal): Promise<void> {
  return new Promise((resolve) =>
    stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true }),
  );
}
