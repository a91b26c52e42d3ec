// Worker tokens: what a remote pull worker (`sluice worker --server --token`) presents to claim work. The
// store keeps only the token's SHA-256 (as for lease tokens), its pool and a label; revoked tokens stay
// listed (revokedAt) so an operator sees what was cut off and when.
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
