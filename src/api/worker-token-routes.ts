// Worker tokens, for operators: POST /v1/workers/tokens makes one (the token is in that answer only),
// GET lists them, POST /v1/workers/tokens/:id/revoke revokes one. Protected like the rest of the API
// (api-token.ts); only the token's SHA-256 is stored.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { hashLeaseToken } from '../jobs/lease-token.ts';
import { DEFAULT_POOLS, type PoolSettings, requireKnownPool } from '../jobs/pool-offer.ts';
import type { WorkerTokenStore } from '../jobs/worker-token-store.ts';
import { parseBody } from './validate.ts';

export const POOL_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Recognisable in a leaked log or a secret scanner. */
const TOKEN_PREFIX = 'sluice_wt_';

export const CreateToken = z.strictObject({
  pool: z
    .string()
    .regex(
      POOL_NAME,
      'a pool name is 1-63 lowercase letters, digits, _ and -, starting with a letter or digit',
    )
    .optional(),
  label: z.string().min(1).max(200).optional(),
});

export function newWorkerTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A token's pool is one of the server's capacity pools (SLUICE_POOLS); without one, the first. */
export function registerWorkerTokenRoutes(
  app: FastifyInstance,
  tokens: WorkerTokenStore,
  pools: PoolSettings = DEFAULT_POOLS,
): void {
  app.post('/v1/workers/tokens', async (req, reply) => {
    const body = parseBody(CreateToken, req.body ?? {});
    requireKnownPool(pools, body.pool);
    const token = newWorkerTokenSecret();
    const made = await tokens.createWorkerToken(
      {
        id: `wt_${randomBytes(6).toString('hex')}`,
        pool: body.pool ?? (pools.pools[0] as string),
        label: body.label ?? null,
        hash: hashLeaseToken(token),
      },
      new Date(),
    );
    req.log.info({ workerToken: made.id, pool: made.pool }, 'worker token created');
    return reply.code(201).send({ ...made, token });
  });

  app.get('/v1/workers/tokens', async () => ({ tokens: await tokens.listWorkerTokens() }));

  app.post<{ Params: { id: string } }>('/v1/workers/tokens/:id/revoke', async (req) => {
    const revoked = await tokens.revokeWorkerToken(req.params.id, new Date());
    if (!revoked)
      throw new SluiceError(
        'WORKER_TOKEN_NOT_FOUND',
        `no worker token with id ${req.params.id}; \`sluice workers token list\` shows them`,
      );
    req.log.info({ workerToken: revoked.id }, 'worker token revoked');
    return revoked;
  });
}
