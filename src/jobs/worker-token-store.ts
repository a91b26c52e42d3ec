// Remote worker tokens at rest: only the SHA-256 of a token is stored (like lease tokens); the store
// finds a token by that hash and records when it was last used. Both job stores implement it.

export interface WorkerToken {
  id: string;
  pool: string;
  label: string | null;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface WorkerTokenStore {
  createWorkerToken(
    t: { id: string; pool: string; label: string | null; hash: string },
    now: Date,
  ): Promise<WorkerToken>;
  listWorkerTokens(): Promise<WorkerToken[]>;
  revokeWorkerToken(id: string, now: Date): Promise<WorkerToken | null>;
  /** The token with this SHA-256 hash, revoked or not (callers check revokedAt). */
  findWorkerTokenByHash(hash: string): Promise<WorkerToken | null>;
  touchWorkerToken(id: string, now: Date): Promise<void>;
}

export interface WorkerTokensTable {
  id: string;
  pool: string;
  label: string | null;
  hash: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export function workerTokenFromRow(r: WorkerTokensTable): WorkerToken {
  return {
    id: r.id,
    pool: r.pool,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}
