// Applies ClientLimits to a Fastify server, so slow or numerous clients cannot exhaust it:
// - the Node server's own timeouts for the request head and idle keep-alive connections, and a cap on
//   open connections that closes the oldest idle one to make room;
// - a body watchdog on every request with a body: a minimum transfer rate (uploads included) and, for
//   the small parsed bodies, a total time; a client that falls below is disconnected, and the upload it
//   was sending fails like any broken stream (the store removes its temp file, nothing is published);
// - a bound on concurrent uploads (refused past it) and a bounded queue for /v1/plan's probes.
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SluiceError } from '../errors.ts';
import { type ClientLimits, DEFAULT_CLIENT_LIMITS } from './client-limits.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import { sendProblem } from './problem.ts';

/** An upload slot frees within seconds when uploads are short, but may take minutes: no quick retry. */
const UPLOAD_RETRY_AFTER_SECONDS = 5;
/** A probe takes well under a second on most inputs. */
const PROBE_RETRY_AFTER_SECONDS = 1;
/** One warning per this long while connections are being closed at the cap, not one per connection. */
const DROP_LOG_INTERVAL_MS = 10_000;

export function resolveClientLimits(partial: Partial<ClientLimits> = {}): ClientLimits {
  return { ...DEFAULT_CLIENT_LIMITS, ...partial };
}

/** Options for `Fastify({...})`: they configure the Node http server it creates. */
export function serverOptions(l: ClientLimits) {
  return {
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // The socket inactivity timeout (Node's server.timeout), which also covers a connection that never
    // sends a byte (Node's headers timeout only starts with the first byte of a request). It is lifted
    // once a request has arrived (guardClients), so a long plan or ingest is not cut for being quiet.
    connectionTimeout: l.idleTimeoutMs,
    // Node's requestTimeout caps the time to receive a whole request, body included: it would end a
    // multi-GB upload on a slow but working link. Bodies are watched by rate instead (guardBody).
    requestTimeout: 0,
    http: {
      requestTimeout: 0,
      headersTimeout: l.headersTimeoutMs,
      // Node checks the headers timeout only this often (default 30 s), so it bounds how late a stalled
      // head is cut; a quarter of the timeout keeps that within 25 % and costs one timer.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(l.headersTimeoutMs / 4))),
    },
  };
}

export interface GuardedRoutes {
  /** Fastify route URLs whose body is an upload stream (rate-checked, no total time, bounded count). */
  uploads: string[];
  /** Route URLs whose body is a stream too (a remote worker's outputs): rate-checked, no total time, not counted. */
  streams?: string[];
}

export interface ClientGuard {
  /** Bounds /v1/plan's ffprobe runs: `probes.run(() => probe(file))`. */
  probes: ConcurrencyLimit;
  uploads: ConcurrencyLimit;
}

/**
 * Registers the hooks; call before any authentication hook, so a refused request's body is watched too.
 * Upload slots are taken in preHandler, after authentication: an unauthorized upload takes none.
 */
export function guardClients(app: FastifyInstance, l: ClientLimits, routes: GuardedRoutes): ClientGuard {
  const idle = limitConnections(app, l.maxConnections);
  const uploads = new ConcurrencyLimit({
    max: l.maxConcurrentUploads,
    maxQueued: 0,
    what: 'uploads',
    retryAfterSeconds: UPLOAD_RETRY_AFTER_SECONDS,
  });
  const probes = new ConcurrencyLimit({
    max: l.maxConcurrentProbes,
    maxQueued: l.maxQueuedProbes,
    what: 'plans probing their input',
    retryAfterSeconds: PROBE_RETRY_AFTER_SECONDS,
  });
  const isUpload = (req: FastifyRequest) => routes.uploads.includes(req.routeOptions.url ?? '');
  const isStream = (req: FastifyRequest) =>
    isUpload(req) || (routes.streams ?? []).includes(req.routeOptions.url ?? '');

  app.addHook('onRequest', async (req, reply) => {
    // Not a real connection under inject() (tests): nothing to time out.
    const socket = req.raw.socket;
    if (!(socket instanceof Socket)) return;
    // Node re-arms it for the next request on a keep-alive connection.
    socket.setTimeout(0);
    idle.busy(socket);
    reply.raw.once('finish', () => idle.idle(socket));
    guardBody(req.raw, l, isStream(req), req.log);
  });
  app.addHook('preHandler', async (req, reply) => {
    if (!isUpload(req)) return;
    let release: () => void;
    try {
      release = await uploads.acquire();
    } catch (err) {
      // Close rather than keep alive: Node would otherwise read the refused body to its end.
      reply.header('connection', 'close');
      return sendProblem(reply, err, req);
    }
    // 'close' comes whether the response was sent or the client went away.
    reply.raw.once('close', release);
  });
  return { probes, uploads };
}

/**
 * Caps open connections without shutting out new clients: past `max`, the oldest connection that has no
 * request in progress (a silent or slow-head socket, or an idle keep-alive one) is closed to make room,
 * so a slow client can only ever displace another idle one. Only when every connection is busy with a
 * request is the new one dropped. (Node's own maxConnections drops the newcomer, however idle the rest:
 * a few thousand silent sockets would then lock every health check out until they time out.)
 */
function limitConnections(app: FastifyInstance, max: number) {
  const idle = new Set<Socket>(); // insertion order: oldest first
  let open = 0;
  let evicted = 0;
  let lastLog = 0;
  app.server.on('connection', (socket: Socket) => {
    open++;
    idle.add(socket);
    socket.once('close', () => {
      open--;
      idle.delete(socket);
    });
    if (open <= max) return;
    const oldest = idle.values().next().value as Socket;
    // The newcomer is in `idle` too, last: it is the one closed when no other is idle.
    idle.delete(oldest);
    oldest.destroy();
    evicted++;
    const now = Date.now();
    if (now - lastLog < DROP_LOG_INTERVAL_MS) return;
    lastLog = now;
    app.log.warn(
      { maxConnections: max, evicted, newcomerDropped: oldest === socket },
      'connection limit reached: closing the oldest connections without a request (SLUICE_MAX_CONNECTIONS)',
    );
  });
  return {
    busy: (socket: Socket) => idle.delete(socket),
    idle: (socket: Socket) => {
      if (!socket.destroyed) idle.add(socket);
    },
  };
}

function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Watches the bytes arriving on the socket while the request body is incomplete. Each window must bring
 * `minBodyBytesPerSecond × bodyRateWindowMs` bytes unless the server is the slow side (it has not read
 * what arrived, so the socket is paused); a small body must also be complete within `requestTimeoutMs`.
 * A client that fails either is disconnected: no response, since it is not reading one.
 */
function guardBody(req: IncomingMessage, l: ClientLimits, upload: boolean, log: FastifyRequest['log']) {
  if (!hasBody(req) || req.complete) return;
  const socket = req.socket;
  const started = Date.now();
  const cut = (reason: string) => {
    stop();
    const err = new SluiceError('REQUEST_TOO_SLOW', `${reason}; the connection was closed`);
    log.warn({ code: err.code, received: socket.bytesRead, ms: Date.now() - started }, err.message);
    req.destroy(err);
    socket.destroy();
  };
  let rate: NodeJS.Timeout | undefined;
  if (l.minBodyBytesPerSecond > 0) {
    const minBytes = (l.minBodyBytesPerSecond * l.bodyRateWindowMs) / 1000;
    let last = socket.bytesRead;
    rate = setInterval(() => {
      if (req.complete || socket.destroyed) return stop();
      const now = socket.bytesRead;
      const serverIsSlow = socket.isPaused() || req.readableLength >= req.readableHighWaterMark;
      if (now - last < minBytes && !serverIsSlow) {
        return cut(
          `the request body arrived at ${Math.round(((now - last) * 1000) / l.bodyRateWindowMs)} B/s, ` +
            `below the minimum of ${l.minBodyBytesPerSecond} B/s (SLUICE_MIN_BODY_BYTES_PER_SECOND)`,
        );
      }
      last = now;
    }, l.bodyRateWindowMs);
    rate.unref();
  }
  const total = upload
    ? undefined
    : setTimeout(() => {
        if (!req.complete && !socket.destroyed)
          cut(`the request body was not complete after ${l.requestTimeoutMs} ms (SLUICE_REQUEST_TIMEOUT_MS)`);
      }, l.requestTimeoutMs).unref();
  // The socket outlives the request (keep-alive): what is added to it for this request is removed with it.
  function stop() {
    clearInterval(rate);
    clearTimeout(total);
    req.off('end', stop);
    req.off('close', stop);
    socket.off('close', stop);
  }
  req.once('end', stop);
  req.once('close', stop);
  socket.once('close', stop);
}
