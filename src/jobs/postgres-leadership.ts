// Leadership among control planes sharing one PostgreSQL schema: a session-level advisory lock held on a
// connection of its own. PostgreSQL releases it when that connection ends, so a replica that dies
// (SIGKILL, crash, lost host once TCP keepalive gives up) hands leadership to the first survivor that asks.
// The leader proves its connection alive on each check; a check that fails or times out drops the
// connection (which releases the lock) and reports no leader here, so two replicas never both act as
// leader for longer than one check timeout.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Leadership } from './leadership.ts';

export interface PostgresLeadershipOptions {
  connectionString: string;
  schema: string;
  /** This replica's name, for the log lines and for pg_stat_activity (application_name). */
  instance: string;
  /** A check slower than this counts as a lost connection (and so lost leadership). */
  timeoutMs: number;
  log: Logger;
}

export class PostgresLeadership implements Leadership {
  private client: pg.Client | null = null;
  private leader = false;
  private checking: Promise<boolean> | null = null;
  private closed = false;
  /**
   * Lost (the connection dropped) since the last check: that check answers no, even if the lock is free
   * again, so the caller sees every loss and starts afresh (re-inherits) on a later gain.
   */
  private lostUnseen = false;
  private readonly key: string;

  constructor(private readonly o: PostgresLeadershipOptions) {
    this.key = `sluice:leader:${o.schema}`;
  }

  isLeader(): Promise<boolean> {
    if (!this.checking) this.checking = this.check().finally(() => (this.checking = null));
    return this.checking;
  }

  private async check(): Promise<boolean> {
    if (this.closed) return false;
    if (this.lostUnseen) {
      this.lostUnseen = false;
      return false;
    }
    try {
      const c = await this.connection();
      if (this.leader) {
        // Session locks last as long as the session: a live connection still holds it. (Asking again
        // would stack a second hold on the same session, not tell us anything.)
        await c.query('SELECT 1');
        return true;
      }
      const r = await c.query<{ got: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [
        this.key,
      ]);
      if (r.rows[0]?.got === true && !this.closed) {
        this.leader = true;
        this.o.log.info({ instance: this.o.instance, schema: this.o.schema }, 'leadership gained');
      }
      return this.leader;
    } catch (err) {
      this.drop((err as Error).message);
      this.lostUnseen = false; // this very answer tells the caller
      return false;
    }
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.o.connectionString,
      application_name: `sluice-leader:${this.o.instance}`.slice(0, 63),
      connectionTimeoutMillis: this.o.timeoutMs,
      query_timeout: this.o.timeoutMs,
      keepAlive: true,
    });
    client.on('error', (err) => this.drop(err.message, client));
    client.on('end', () => this.drop('the connection ended', client));
    this.client = client;
    try {
      await client.connect();
    } catch (err) {
      this.drop((err as Error).message, client);
      throw err;
    }
    return client;
  }

  /** Forgets the connection (ending it releases the lock, if PostgreSQL still holds it for us). */
  private drop(why: string, which: pg.Client | null = this.client): void {
    if (which === null || which !== this.client) return;
    this.client = null;
    which.removeAllListeners();
    which.on('error', () => {});
    void which.end().catch(() => {});
    if (this.leader) {
      this.leader = false;
      this.lostUnseen = true;
      this.o.log.warn({ instance: this.o.instance, schema: this.o.schema, err: why }, 'leadership lost');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.checking?.catch(() => {});
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners();
      c.on('error', () => {});
      await c.end().catch(() => {});
    }
    if (this.leader) {
      this.leader = false;
      this.o.log.info({ instance: this.o.instance, schema: this.o.schema }, 'leadership released');
    }
  }
}
