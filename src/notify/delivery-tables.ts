// The outbox's tables, appended to both stores' migrations: its read positions in the job-event log, one
// delivery per (sink, target, event), and one row per attempt (the delivery log users read).
export interface OutboxPositionsTable {
  consumer: string;
  /** INTEGER in SQLite, BIGINT (read as a string) in PostgreSQL. */
  event_id: number | string;
  updated_at: string;
}

export interface DeliveriesTable {
  id: string;
  sink: string;
  target: string;
  event_id: number | string;
  job_id: string;
  event_type: string;
  /** The CloudEvent as sent, JSON. */
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  /** An attempt in flight holds the delivery until then (a killed server's hold lapses). */
  held_until: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
}

export interface DeliveryAttemptsTable {
  delivery_id: string;
  attempt: number;
  at: string;
  duration_ms: number;
  ok: number | boolean;
  status_code: number | null;
  error: string | null;
}

export interface DeliveryTables {
  outbox_positions: OutboxPositionsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
}

const tables = (text: string, id: string, collate: string, bool: string): string[] => [
  `CREATE TABLE IF NOT EXISTS outbox_positions (
     consumer TEXT${collate} PRIMARY KEY,
     event_id ${id} NOT NULL,
     updated_at TEXT${collate} NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS deliveries (
     id TEXT${collate} PRIMARY KEY,
     sink TEXT${collate} NOT NULL,
     target TEXT${collate} NOT NULL,
     event_id ${id} NOT NULL,
     job_id TEXT${collate} NOT NULL,
     event_type TEXT NOT NULL,
     payload ${text} NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at TEXT${collate} NOT NULL,
     held_until TEXT${collate},
     created_at TEXT${collate} NOT NULL,
     updated_at TEXT${collate} NOT NULL,
     delivered_at TEXT${collate},
     last_status_code INTEGER,
     last_error TEXT,
     UNIQUE (sink, target, event_id)
   )`,
  `CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING'`,
  'CREATE INDEX IF NOT EXISTS deliveries_target ON deliveries (sink, target, created_at)',
  'CREATE INDEX IF NOT EXISTS deliveries_job ON deliveries (job_id, created_at)',
  'CREATE INDEX IF NOT EXISTS deliveries_updated ON deliveries (updated_at)',
  `CREATE TABLE IF NOT EXISTS delivery_attempts (
     delivery_id TEXT${collate} NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
     attempt INTEGER NOT NULL,
     at TEXT${collate} NOT NULL,
     duration_ms INTEGER NOT NULL,
     ok ${bool} NOT NULL,
     status_code INTEGER,
     error TEXT,
     PRIMARY KEY (delivery_id, attempt)
   )`,
];

export const DELIVERY_TABLES_SQLITE: readonly string[] = tables('TEXT', 'INTEGER', '', 'INTEGER');
export const DELIVERY_TABLES_POSTGRES: readonly string[] = tables(
  'TEXT',
  'BIGINT',
  ' COLLATE "C"',
  'BOOLEAN',
);

/**
 * Where the outbox starts: at the head of the job-event log when this migration runs, in the same
 * transaction. An upgraded database does not replay its history to the sinks; every event made after it,
 * even before the outbox's first pass (a server not yet leading), is delivered. Appended after the tables
 * (and after webhook_subscriptions), as its own migration.
 */
export const OUTBOX_START_SQLITE = `INSERT OR IGNORE INTO outbox_positions (consumer, event_id, updated_at)
  SELECT 'sinks', COALESCE(MAX(id), 0), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM job_events`;
export const OUTBOX_START_POSTGRES = `INSERT INTO outbox_positions (consumer, event_id, updated_at)
  SELECT 'sinks', COALESCE(MAX(id), 0), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  FROM job_events ON CONFLICT (consumer) DO NOTHING`;
