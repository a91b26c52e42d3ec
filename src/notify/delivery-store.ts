// The outbox's storage seam: its read position in the job-event log and the deliveries it made from it,
// kept in the job store's database (both stores implement it through kysely-deliveries.ts).
import type { JobCloudEvent } from './cloud-event.ts';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from './sink.ts';

export interface NewDelivery {
  sink: string;
  target: string;
  eventId: number;
  jobId: string;
  event: JobCloudEvent;
}

export interface DeliveryFilter {
  sink?: string;
  target?: string;
  jobId?: string;
  status?: DeliveryStatus;
  limit?: number;
}

export interface DeliveryStore {
  /** The last job event the outbox fanned out (null: it never ran; it starts at the log's head). */
  outboxPosition(consumer: string): Promise<number | null>;
  /**
   * Keeps `deliveries` (one per sink, target and event: a repeat is ignored) and moves the read position
   * to `upTo`, in one transaction: a crash between the two cannot lose or double an event.
   */
  enqueueDeliveries(consumer: string, upTo: number, deliveries: NewDelivery[], now: Date): Promise<void>;
  /**
   * PENDING deliveries due at `now` and not held by another attempt, oldest first, each held for `holdMs`
   * (a server killed mid-attempt leaves it to be tried again once the hold lapses).
   */
  claimDueDeliveries(now: Date, limit: number, holdMs: number): Promise<Delivery[]>;
  /** Records an attempt and what follows it: delivered, failed for good, or pending again at `nextAttemptAt`. */
  recordDeliveryAttempt(
    attempt: DeliveryAttempt,
    next: { status: DeliveryStatus; nextAttemptAt?: string },
    now: Date,
  ): Promise<void>;
  listDeliveries(filter: DeliveryFilter): Promise<Delivery[]>;
  getDelivery(id: string): Promise<Delivery | null>;
  deliveryAttempts(deliveryId: string): Promise<DeliveryAttempt[]>;
  /** Puts a delivery back to PENDING, due now (a user's manual redelivery); null when there is none. */
  redeliver(id: string, now: Date): Promise<Delivery | null>;
  /** Marks a target's PENDING deliveries DISCARDED (its subscription was removed or disabled); returns how many. */
  discardDeliveries(sink: string, target: string, now: Date): Promise<number>;
  /** The earliest nextAttemptAt of a PENDING delivery (the outbox sleeps until then), or null. */
  nextDeliveryDue(): Promise<string | null>;
  /** Deletes finished deliveries (and their attempts) last updated before `before`. */
  purgeDeliveries(before: Date): Promise<number>;
}
