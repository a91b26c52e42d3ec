// The Worker API of remote pull workers (`sluice worker --server URL --token TOKEN`):
// - POST /v1/worker/claim, with a worker token: claims the next job for the token's pool and answers the
//   assignment (the job, a fresh one-attempt lease token, and the storage URLs of that attempt), or 204
//   after waiting up to 20 s for work to appear (a long poll: it answers as soon as a job is there).
// - the storage URLs, each authorized by the attempt's lease token alone and refused (LEASE_LOST) once
//   the attempt lost its lease or ended: the input (stat, bytes with Range), output PUTs confined to the
//   attempt's version folder or its staging folder, and publish / discard, which run publish.ts's swap on
//   the server. So a worker on another host needs no database and no bucket credentials.
// - on a store that presigns (S3), also POST presign: short-lived URLs for reading the input and writing
//   the outputs straight at the store, issued under the same lease check and confined to the same keys,
//   so the media bytes never pass through the control plane; publish and discard stay here.
// Heartbeats and results go through the routes every worker uses (worker-routes.ts), with the lease token.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { newToken } from '../jobs/job-id.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { hashLeaseToken } from '../jobs/lease-token.ts';
import { requireLease } from '../jobs/state-machine.ts';
import type { WorkerToken, WorkerTokenStore } from '../jobs/worker-token-store.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore, PresignedRequest } from '../storage/object-store.ts';
import { versionFolder } from '../worker/outputs.ts';
import { discardAttempt, stagingPrefix, swapEntries, versionName } from '../worker/publish.ts';
import { type Assignment, MAX_CLAIM_WAIT_SECONDS } from '../worker/worker-api-client.ts';
import { parseBody } from './validate.ts';
import { assignmentOf, tokenOf } from './worker-routes.ts';

/** How often a waiting claim looks again without being told (delayed retries become runnable by time). */
const CLAIM_POLL_MS = 500;
/** What a worker is told to wait when the server is stopping. */
const STOPPING_RETRY_AFTER_SECONDS = 5;

export const OUTPUTS_ROUTE = '/v1/worker/jobs/:id/outputs/*';

/** How long a presigned URL stays usable: long enough for one file, short enough that a worker that lost its lease soon cannot write. */
export const PRESIGN_SECONDS = 600;
/** Output URLs one presign call gives at most. */
export const PRESIGN_BATCH = 200;

export const Claim = z.strictObject({
  pool: z.string().min(1).max(63).optional(),
  waitSeconds: z.number().min(0).max(MAX_CLAIM_WAIT_SECONDS).optional(),
});

export const Publish = z.strictObject({ entries: z.array(z.string().min(1).max(1024)).max(10_000) });

export const Presign = z.strictObject({
  input: z.boolean().optional(),
  outputs: z.array(z.string().min(1).max(1024)).max(PRESIGN_BATCH).optional(),
});

export interface PullRouteOptions {
  store: JobStore;
  tokens: WorkerTokenStore;
  objects: ObjectStore;
  leaseMs: number;
  heartbeatSeconds: number;
  /** False while the control plane stops: claims answer 204 at once. */
  accepting: () => boolean;
  /** Subscribes to "work may be there" (a new job, a retry); returns the unsubscribe. */
  onWork: (listener: () => void) => () => void;
}

export async function authenticateWorker(
  tokens: WorkerTokenStore,
  req: FastifyRequest,
): Promise<WorkerToken> {
  const header = req.headers.authorization ?? '';
  const given = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!given)
    throw new SluiceError(
      'WORKER_TOKEN_INVALID',
      'claims need "Authorization: Bearer <worker token>"; make one with `sluice workers token create`',
    );
  const token = await tokens.findWorkerTokenByHash(hashLeaseToken(given));
  if (!token)
    throw new SluiceError(
      'WORKER_TOKEN_INVALID',
      'this worker token is not known to the server; make one with `sluice workers token create`',
    );
  if (token.revokedAt)
    throw new SluiceError(
      'WORKER_TOKEN_REVOKED',
      `worker token ${token.id} was revoked at ${token.revokedAt}; give the worker a new token`,
      { id: token.id },
    );
  return token;
}

function attemptUrls(jobId: string, presign: boolean): NonNullable<Assignment['storage']> {
  const base = `/v1/worker/jobs/${encodeURIComponent(jobId)}`;
  return {
    inputStat: `${base}/input/stat`,
    input: `${base}/input`,
    outputs: `${base}/outputs`,
    publish: `${base}/publish`,
    discard: `${base}/discard`,
    parts: `${base}/parts`,
    ...(presign ? { presign: `${base}/presign` } : {}),
  };
}

export function registerPullRoutes(app: FastifyInstance, o: PullRouteOptions): void {
  const { store, tokens, objects, leaseMs } = o;
  type P = { Params: { id: string } };

  app.post('/v1/worker/claim', async (req, reply) => {
    const body = parseBody(Claim, req.body ?? {});
    const token = await authenticateWorker(tokens, req);
    if (body.pool !== undefined && body.pool !== token.pool) {
      throw new SluiceError(
        'WORKER_POOL_MISMATCH',
        `this worker asks for pool ${JSON.stringify(body.pool)} but its token ${token.id} is for pool ${JSON.stringify(token.pool)}; drop --pool or make a token for that pool`,
      );
    }
    await tokens.touchWorkerToken(token.id, new Date());
    const until = Date.now() + (body.waitSeconds ?? MAX_CLAIM_WAIT_SECONDS) * 1000;
    // The socket, not the request: a request whose body was read is "destroyed" (autoDestroy) already.
    const gone = () => req.raw.socket?.destroyed === true;
    for (;;) {
      if (!o.accepting())
        return reply.code(204).header('retry-after', String(STOPPING_RETRY_AFTER_SECONDS)).send();
      if (gone()) return reply.code(204).send();
      const leaseToken = newToken();
      const claimed = await store.claimNext(leaseToken, leaseMs, new Date(), { pool: token.pool });
      if (claimed) {
        if (gone()) {
          // Nobody is there to take it: undone at once, without using up an attempt.
          await store.transition(
            claimed.id,
            { type: 'release', reason: 'the claiming worker went away', retryDelayMs: 0 },
            new Date(),
          );
          return reply.code(204).send();
        }
        const job = await store.transition(claimed.id, { type: 'start', leaseToken, leaseMs }, new Date());
        req.log.info(
          { jobId: job.id, attempt: job.attempts, workerToken: token.id, pool: token.pool },
          'job claimed by a remote worker',
        );
        const assignment: Assignment & { pool: string } = {
          ...assignmentOf(job, o.heartbeatSeconds, leaseMs),
          leaseToken,
          storage: attemptUrls(job.id, objects.presign !== undefined),
          pool: token.pool,
        };
        return assignment;
      }
      const left = until - Date.now();
      if (left <= 0) return reply.code(204).header('retry-after', '0').send();
      await waitForWork(o.onWork, Math.min(left, CLAIM_POLL_MS), req);
      // A token revoked while its worker waits is refused now, not at the next claim.
      await authenticateWorker(tokens, req);
    }
  });

  /** The job, if the bearer's lease token holds it now (and its lease has not lapsed). */
  const attemptOf = async (req: FastifyRequest<P>, what: string): Promise<Job> => {
    const token = tokenOf(req);
    const job = await store.get(req.params.id);
    if (!job) throw new SluiceError('JOB_NOT_FOUND', `no job with id ${req.params.id}`);
    requireLease(job, token, what);
    if (job.leaseUntil !== null && Date.parse(job.leaseUntil) < Date.now()) {
      throw new SluiceError(
        'LEASE_LOST',
        `the lease of job ${job.id} lapsed at ${job.leaseUntil}; its ${what} was refused`,
      );
    }
    return job;
  };

  app.get<P>('/v1/worker/jobs/:id/input/stat', async (req) => {
    const job = await attemptOf(req, 'input stat');
    const info = await objects.stat(job.input.bucket, job.input.key);
    if (!info)
      throw new SluiceError('OBJECT_NOT_FOUND', `object ${job.input.bucket}/${job.input.key} does not exist`);
    return info;
  });

  app.get<P>('/v1/worker/jobs/:id/input', async (req, reply) => {
    const job = await attemptOf(req, 'input read');
    const range = parseRange(req.headers.range);
    const { info, stream } = await objects.openRead(job.input.bucket, job.input.key, range ?? undefined);
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? info.size - 1, info.size - 1);
    if (range && start > end && info.size > 0) {
      stream.destroy();
      throw new SluiceError(
        'VALIDATION_FAILED',
        `range ${req.headers.range} is beyond the input's ${info.size} bytes`,
      );
    }
    reply
      .header('content-type', 'application/octet-stream')
      .header('accept-ranges', 'bytes')
      .header('etag', JSON.stringify(info.etag))
      .header('content-length', String(Math.max(0, end - start + 1)));
    if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${info.size}`);
    return reply.send(stream);
  });

  void app.register(async (scope) => {
    // Output bodies are raw bytes, whatever their content type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.put<{ Params: { id: string; '*': string } }>(OUTPUTS_ROUTE, async (req, reply) => {
      const job = await attemptOf(req, 'output upload');
      const rel = validateObjectKey(req.params['*']);
      const key = outputKey(job, rel);
      const declared = req.headers['content-length'];
      const info = await objects.put(job.destination.bucket, key, req.raw, {
        ...(declared !== undefined ? { expectedBytes: Number(declared) } : {}),
      });
      return reply.code(201).send({ ...info, key: `${job.destination.prefix}/${rel}` });
    });
  });

  app.post<P>('/v1/worker/jobs/:id/presign', async (req) => {
    const job = await attemptOf(req, 'presign');
    const presign = objects.presign?.bind(objects);
    if (!presign)
      throw new SluiceError('ROUTE_NOT_FOUND', 'the object store of this server gives no presigned URLs');
    const body = parseBody(Presign, req.body ?? {});
    const outputs: Record<string, PresignedRequest & { key: string }> = {};
    for (const rel of body.outputs ?? []) {
      const key = outputKey(job, validateObjectKey(rel));
      outputs[rel] = {
        ...(await presign(job.destination.bucket, key, 'PUT', PRESIGN_SECONDS)),
        key: `${job.destination.prefix}/${rel}`,
      };
    }
    const input = body.input
      ? await presign(job.input.bucket, job.input.key, 'GET', PRESIGN_SECONDS)
      : undefined;
    req.log.debug(
      { jobId: job.id, input: Boolean(input), outputs: Object.keys(outputs).length },
      'presigned',
    );
    return { ...(input ? { input } : {}), outputs, expiresInSeconds: PRESIGN_SECONDS };
  });

  app.post<P>('/v1/worker/jobs/:id/publish', async (req) => {
    const job = await attemptOf(req, 'publish');
    const { entries } = parseBody(Publish, req.body);
    for (const e of entries) entryKey(job, validateObjectKey(e));
    await swapEntries(objects, job.destination.bucket, job.destination.prefix, entries, {
      jobId: job.id,
      attempt: job.attempts,
    });
    return { published: entries.length };
  });

  app.post<P>('/v1/worker/jobs/:id/discard', async (req) => {
    const job = await attemptOf(req, 'discard');
    await discardAttempt(objects, job.destination.bucket, job.destination.prefix, {
      jobId: job.id,
      attempt: job.attempts,
    });
    return { discarded: true };
  });
}

/**
 * Where an output the attempt PUTs goes: `v/<its version>/...` into its own version folder, anything else
 * (an entry point) into its staging folder, to be swapped in by publish. Another version's folder is refused.
 */
function outputKey(job: Job, rel: string): string {
  const own = versionFolder(versionName(job.id, job.attempts));
  if (rel.startsWith(`${own}/`)) return `${job.destination.prefix}/${rel}`;
  return `${stagingPrefix(job.id, job.attempts)}/${entryKey(job, rel)}`;
}

function entryKey(job: Job, rel: string): string {
  if (rel === 'v' || rel.startsWith('v/')) {
    const own = versionFolder(versionName(job.id, job.attempts));
    throw new SluiceError(
      'OUTPUT_OUTSIDE_DESTINATION',
      `output ${JSON.stringify(rel)} is refused: this attempt writes versioned files only under ${own}/ of its output set`,
      { key: rel, versionFolder: own },
    );
  }
  return rel;
}

function parseRange(header: string | undefined): { start: number; end?: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m)
    throw new SluiceError('VALIDATION_FAILED', `Range ${header} is not supported; use bytes=<start>-[<end>]`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start)
    throw new SluiceError('VALIDATION_FAILED', `Range ${header} is empty`);
  return end === undefined ? { start } : { start, end };
}

/** Resolves when work may be there, after `ms`, or when the client goes away. */
function waitForWork(onWork: PullRouteOptions['onWork'], ms: number, req: FastifyRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      req.raw.socket?.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = onWork(done);
    req.raw.socket?.once('close', done);
  });
}
