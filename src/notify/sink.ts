// The Sink seam: where told job events go (webhooks, email, a JetStream stream; a Kafka topic would be one
// more). The outbox (outbox.ts) does the rest for every sink alike: it reads the job-event log in commit
// order, asks each sink which of its targets want an event (fan-out, once per event), keeps one delivery
// per event and target in the store, and delivers it with retries (exponential backoff with jitter, over
// more than a day) that survive restarts. A sink only decides who wants what and makes one attempt.
import type { JobCloudEvent } from './cloud-event.ts';

/** One event for one target of one sink, as kept by the outbox. */
export interface Delivery {
  id: string;
  /** The sink's name: `webhook`, `email`, `jetstream`. */
  sink: string;
  /** Which of the sink's targets: a webhook subscription's id, an email rule's name, a stream. */
  target: string;
  /** The job event's log position (JobStore.eventsAfter). */
  eventId: number;
  jobId: string;
  /** The event as sent, fixed when the delivery was made (a redelivery sends the same bytes). */
  event: JobCloudEvent;
  status: DeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  nextAttemptAt: string;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
  /** The last attempt's outcome: an HTTP status where there was one, and what went wrong. */
  lastStatusCode: number | null;
  lastError: string | null;
}

/**
 * PENDING: to be attempted at nextAttemptAt. DELIVERED: a target took it. FAILED: retries ran out (or the
 * target refused it for good); a user may redeliver. DISCARDED: the target went away (subscription removed
 * or disabled) before it was delivered.
 */
export const DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED', 'DISCARDED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What one attempt came to. */
export type DeliveryOutcome =
  | { ok: true; statusCode?: number }
  | {
      ok: false;
      /** True: try again later (timeouts, refused connections, 5xx, 429). False: it will never be taken. */
      retry: boolean;
      error: string;
      statusCode?: number;
      /** The target asked to be left alone this long (HTTP Retry-After). */
      retryAfterMs?: number;
      /** The target is gone for good (HTTP 410): no more deliveries to it. */
      disableTarget?: boolean;
    };

export interface DeliveryAttempt {
  deliveryId: string;
  attempt: number;
  at: string;
  durationMs: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

export interface Sink {
  readonly name: string;
  /**
   * The targets that want `event` (filters on type and userMetadata), decided once when the event is
   * fanned out. Throwing makes the outbox try the whole batch again later, so nothing is skipped.
   */
  targets(event: JobCloudEvent): Promise<string[]>;
  /**
   * The targets of each of `events` (one list per event, in order), when the sink can decide a batch at
   * less cost than one event at a time (webhooks read their subscriptions once). The outbox prefers it.
   */
  targetsOf?(events: readonly JobCloudEvent[]): Promise<string[][]>;
  /** One attempt; never throws (a thrown error counts as a retryable failure). */
  deliver(delivery: Delivery): Promise<DeliveryOutcome>;
  /** Called once when an attempt said `disableTarget` (the sink stops offering that target). */
  disableTarget?(target: string, reason: string, now: Date): Promise<void>;
  close?(): Promise<void>;
}
