// Which JobStore `sluice serve` uses: SQLite in the data directory (the embedded default), or
// PostgreSQL when SLUICE_DATABASE_URL names one (postgres://…; `?schema=NAME` picks the schema).
import path from 'node:path';
import type { Logger } from 'pino';
import type { ObjectSequencerStore } from '../ingest/sequencer.ts';
import type { SkipRecordStore } from '../ingest/skip-log.ts';
import type { DeliveryStore } from '../notify/delivery-store.ts';
import type { WebhookStore } from '../notify/webhook-subscriptions.ts';
import type { JobStore } from './job-store.ts';
import { DEFAULT_POOLS, type PoolSettings } from './pool-offer.ts';
import { PostgresJobStore, parsePostgresUrl } from './postgres-job-store.ts';
import { SqliteJobStore } from './sqlite-job-store.ts';
import type { WorkerTokenStore } from './worker-token-store.ts';

export type ServiceJobStore = JobStore &
  SkipRecordStore &
  WorkerTokenStore &
  ObjectSequencerStore & {
    /** The notification outbox's storage, in the same database (notify/delivery-store.ts). */
    readonly deliveries: DeliveryStore;
    /** Webhook subscriptions, in the same database (notify/webhook-subscriptions.ts). */
    readonly webhooks: WebhookStore;
  };

export function openJobStore(
  o: { dataDir: string; databaseUrl?: string | undefined },
  log: Logger,
  pools: PoolSettings = DEFAULT_POOLS,
): { store: ServiceJobStore; kind: 'sqlite' | 'postgres'; where: string } {
  if (o.databaseUrl) {
    const { connectionString, schema } = parsePostgresUrl(o.databaseUrl);
    const u = new URL(connectionString);
    // Logged without the password.
    const where = `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname} (schema ${schema})`;
    return { store: new PostgresJobStore({ connectionString, schema, log, pools }), kind: 'postgres', where };
  }
  const file = path.join(o.dataDir, 'sluice.db');
  return { store: new SqliteJobStore(file, pools), kind: 'sqlite', where: file };
}
