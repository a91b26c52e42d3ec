// The outbox's storage (delivery-store.ts) as both job stores run it: Kysely speaks SQLite and PostgreSQL
// alike here. Only the claim differs: PostgreSQL locks the due rows it takes and skips those another
// replica holds (FOR UPDATE SKIP LOCKED); SQLite has one writer, so its transaction is enough.
import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { DeliveryFilter, DeliveryStore, NewDelivery } from './delivery-store.ts';
import type { DeliveriesTable, DeliveryAttemptsTable, DeliveryTables } from './delivery-tables.ts';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from './sink.ts';

export function newDeliveryId(): string {
  return `dlv_${randomBytes(12).toString('base64url')}`;
}

function deliveryFromRow(r: Selectable<DeliveriesTable>): Delivery {
  return {
    id: r.id,
    sink: r.sink,
    target: r.target,
    eventId: Number(r.event_id),
    jobId: r.job_id,
    event: JSON.parse(r.payload),
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error,
  };
}

function attemptFromRow(r: Selectable<DeliveryAttemptsTable>): DeliveryAttempt {
  return {
    deliveryId: r.delivery_id,
    attempt: Number(r.attempt),
    at: r.at,
    durationMs: Number(r.duration_ms),
    ok: Boolean(r.ok),
    statusCode: r.status_code === null ? null : Number(r.status_code),
    error: r.error,
  };
}

export class KyselyDeliveries implements DeliveryStore {
  constructor(
    private readonly db: Kysely<DeliveryTables>,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  async outboxPosition(consumer: string): Promise<number | null> {
    const row = await this.db
      .selectFrom('outbox_positions')
      .select('event_id')
      .where('consumer', '=', consumer)
      .executeTakeFirst();
    return row ? Number(row.event_id) : null;
  }

  async enqueueDeliveries(
    consumer: string,
    upTo: number,
    deliveries: NewDelivery[],
    now: Date,
  ): Promise<void> {
    const at = now.toISOString();
    await this.db.transaction().execute(async (trx) => {
      for (const d of deliveries) {
        await trx
          .insertInto('deliveries')
          .values({
            id: newDeliveryId(),
            sink: d.sink,
            target: d.target,
            event_id: d.eventId,
            job_id: d.jobId,
            event_type: d.event.type,
            payload: JSON.stringify(d.event),
            status: 'PENDING',
            attempts: 0,
            next_attempt_at: at,
            held_until: null,
            created_at: at,
            updated_at: at,
            delivered_at: null,
            last_status_code: null,
            last_error: null,
          })
          .onConflict((oc) => oc.columns(['sink', 'target', 'event_id']).doNothing())
          .execute();
      }
      await trx
        .insertInto('outbox_positions')
        .values({ consumer, event_id: upTo, updated_at: at })
        .onConflict((oc) => oc.column('consumer').doUpdateSet({ event_id: upTo, updated_at: at }))
        .execute();
    });
  }

  async claimDueDeliveries(now: Date, limit: number, holdMs: number): Promise<Delivery[]> {
    const at = now.toISOString();
    const until = new Date(now.getTime() + holdMs).toISOString();
    return this.db.transaction().execute(async (trx) => {
      let pick = trx
        .selectFrom('deliveries')
        .select('id')
        .where('status', '=', 'PENDING')
        .where('next_attempt_at', '<=', at)
        .where((eb) => eb.or([eb('held_until', 'is', null), eb('held_until', '<', at)]))
        .orderBy('next_attempt_at')
        .orderBy('created_at')
        // Deliveries made in one fan-out tie on both: the log's order, so a job's events go in order.
        .orderBy('event_id')
        .limit(limit);
      if (this.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      const ids = (await pick.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = await trx
        .updateTable('deliveries')
        .set({ held_until: until, updated_at: at })
        .where('id', 'in', ids)
        .returningAll()
        .execute();
      return rows
        .map(deliveryFromRow)
        .sort((a, b) => a.nextAttemptAt.localeCompare(b.nextAttemptAt) || a.eventId - b.eventId);
    });
  }

  async recordDeliveryAttempt(
    attempt: DeliveryAttempt,
    next: { status: DeliveryStatus; nextAttemptAt?: string },
    now: Date,
  ): Promise<void> {
    const at = now.toISOString();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('delivery_attempts')
        .values({
          delivery_id: attempt.deliveryId,
          attempt: attempt.attempt,
          at: attempt.at,
          duration_ms: Math.round(attempt.durationMs),
          ok: this.dialect === 'postgres' ? attempt.ok : attempt.ok ? 1 : 0,
          status_code: attempt.statusCode,
          error: attempt.error,
        })
        .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
        .execute();
      await trx
        .updateTable('deliveries')
        .set({
          status: next.status,
          attempts: attempt.attempt,
          held_until: null,
          updated_at: at,
          last_status_code: attempt.statusCode,
          last_error: attempt.error,
          ...(next.nextAttemptAt ? { next_attempt_at: next.nextAttemptAt } : {}),
          ...(next.status === 'DELIVERED' ? { delivered_at: attempt.at } : {}),
        })
        .where('id', '=', attempt.deliveryId)
        // A redelivery asked for while this attempt ran is not undone by its outcome.
        .where('status', '=', 'PENDING')
        .execute();
    });
  }

  async listDeliveries(f: DeliveryFilter): Promise<Delivery[]> {
    let q = this.db.selectFrom('deliveries').selectAll();
    if (f.sink !== undefined) q = q.where('sink', '=', f.sink);
    if (f.target !== undefined) q = q.where('target', '=', f.target);
    if (f.jobId !== undefined) q = q.where('job_id', '=', f.jobId);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('event_id', 'desc')
      .limit(f.limit ?? 100)
      .execute();
    return rows.map(deliveryFromRow);
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    const row = await this.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? deliveryFromRow(row) : null;
  }

  async deliveryAttempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', deliveryId)
      .orderBy('attempt')
      .execute();
    return rows.map(attemptFromRow);
  }

  async redeliver(id: string, now: Date): Promise<Delivery | null> {
    const at = now.toISOString();
    const row = await this.db
      .updateTable('deliveries')
      .set({ status: 'PENDING', next_attempt_at: at, held_until: null, updated_at: at })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? deliveryFromRow(row) : null;
  }

  async discardDeliveries(sink: string, target: string, now: Date): Promise<number> {
    const r = await this.db
      .updateTable('deliveries')
      .set({ status: 'DISCARDED', updated_at: now.toISOString(), held_until: null })
      .where('sink', '=', sink)
      .where('target', '=', target)
      .where('status', '=', 'PENDING')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async nextDeliveryDue(): Promise<string | null> {
    const row = await this.db
      .selectFrom('deliveries')
      .select('next_attempt_at')
      .where('status', '=', 'PENDING')
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst();
    return row?.next_attempt_at ?? null;
  }

  async purgeDeliveries(before: Date): Promise<number> {
    const r = await this.db
      .deleteFrom('deliveries')
      .where('status', '!=', 'PENDING')
      .where('updated_at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
