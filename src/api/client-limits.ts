// What the API allows a client: how long it may take to send its request, and how many heavy requests
// (uploads, probes) run at once. Pure values; slow-client-guard.ts applies them to the Fastify server,
// config.ts exposes them as SLUICE_* variables.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface ClientLimits {
  /** The request head must have fully arrived this long after the connection opened (or the last request). */
  headersTimeoutMs: number;
  /**
   * A connection that sends nothing this long while no request is in progress (a silent new socket) is
   * closed; once a request head has arrived the body watchdog and the server's own work take over.
   */
  idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A request body other than an upload (JSON, at most 1 MiB) must have fully arrived within this. */
  requestTimeoutMs: number;
  /**
   * Every request body, uploads included, must bring at least this many bytes per second, averaged over
   * each `bodyRateWindowMs`; 0 turns the check off. A rate, not a total time cap, so a multi-GB upload
   * on a slow but working link is never cut, while one that trickles or stalls is.
   */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /**
   * Open connections, so clients can never take every file descriptor; past it the oldest connection
   * without a request in progress is closed to make room for the new one.
   */
  maxConnections: number;
  /** PUT /v1/uploads streaming at once; past it an upload is refused (503 SERVER_BUSY, Retry-After). */
  maxConcurrentUploads: number;
  /** ffprobe runs for POST /v1/plan at once; past it a plan waits in a queue of `maxQueuedProbes`. */
  maxConcurrentProbes: number;
  /** Plans waiting for a probe; past it a plan is refused (503 SERVER_BUSY, Retry-After). */
  maxQueuedProbes: number;
}

/** The soft limit on open files (Node raises it to the hard limit at start), or null off Linux. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : null;
  } catch {
    return null;
  }
}

/**
 * Half the process's file descriptors: the other half stays for bucket files, SQLite, the watcher and
 * the workers' pipes, which must keep working however many clients connect. Capped, since past a few
 * thousand connections a single Node process is the bottleneck anyway.
 */
export function defaultMaxConnections(fds = openFileLimit()): number {
  if (fds === null) return 1024;
  return Math.max(64, Math.min(16_384, Math.floor(fds / 2)));
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  // Node's own default is 60 s, checked every 30 s: long enough for thousands of silent sockets to pile up.
  headersTimeoutMs: 10_000,
  // A silent socket costs a file descriptor and nothing else to its client: do not hold it long.
  idleTimeoutMs: 10_000,
  // Fastify's default (72 s) suits a load balancer in front; a direct client reconnects cheaply.
  keepAliveTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  // 10 KiB per 10 s: a stalled or dripping body is gone within 10-20 s; 1 KiB/s is below any real link.
  minBodyBytesPerSecond: 1024,
  bodyRateWindowMs: 10_000,
  maxConnections: defaultMaxConnections(),
  // Uploads are disk-bound: a handful saturates a disk; 16 leaves room for parallel clients.
  maxConcurrentUploads: 16,
  // A probe is short and CPU-bound: one per core; the queue absorbs bursts of a UI's dry runs.
  maxConcurrentProbes: Math.max(2, os.availableParallelism()),
  maxQueuedProbes: 64,
};
