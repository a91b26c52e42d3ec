// The outbox: job events, written in the same transaction as their transitions, delivered from there to
// every sink (webhooks, email, JetStream). It reads the job-event log in commit order from a persisted
// position, fans each told event out once (one delivery per sink, target and event, made in the same
// transaction that moves the position), and delivers due deliveries with retries that survive restarts:
// a delivery lives in the store until a target takes it or its retry window ends. At least once: a server
// killed mid-attempt tries that delivery again once its hold lapses, so receivers deduplicate on the event
// id (webhook-id, Nats-Msg-Id, Message-ID). Only the leader runs it; a second one would only repeat work
// the unique (sink, target, event) key and the claim's row locks absorb.
import type { Logger } from 'pino';
import type { JobStore } from '../jobs/job-store.ts';
import { DEFAULT_EVENT_SOURCE, toCloudEvent } from './cloud-event.ts';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, type RetrySchedule } from './delivery-schedule.ts';
import type { DeliveryStore, NewDelivery } from './delivery-store.ts';
import type { Delivery, DeliveryOutcome, DeliveryStatus, Sink } from './sink.ts';
import { StatusUpdates } from './status-updates.ts';

/** How often an idle outbox looks at the deliveries anyway. */
const DUE_CHECK_MS = 5_000;

/** The outbox's read position in the event log (outbox_positions.consumer). */
export const SINKS_CONSUMER = 'sinks';

export type DeliveryObservation = 'delivered' | 'retrying' | 'failed' | 'disabled';

export interface OutboxOptions {
  /** The CloudEvents `source` (SLUICE_EVENT_SOURCE). */
  source?: string;
  /** How often the log is read and due deliveries are looked for. */
  pollMs?: number;
  /** Events read per pass. */
  batch?: number;
  /** Attempts in flight at once, over all sinks. */
  concurrency?: number;
  /** How long an attempt holds its delivery (longer than any sink's own timeout). */
  holdMs?: number;
  retry?: RetrySchedule;
  /** STATUS_UPDATE interval; 0 turns the ticker off. */
  statusUpdateMs?: number;
  /** Finished deliveries are purged this long after their last change (0 keeps them). */
  retentionMs?: number;
  /** Only the leader delivers (PostgreSQL replicas); default: always. */
  isLeader?: () => boolean;
  /** Each attempt's outcome, for metrics. */
  observe?: (sink: string, outcome: DeliveryObservation, durationMs: number) => void;
  /** For tests: the clock and the jitter. */
  now?: () => Date;
  random?: () => number;
}

export class Outbox {
  private readonly o: Required<Omit<OutboxOptions, 'observe'>> & Pick<OutboxOptions, 'observe'>;
  private readonly sinks: Map<string, Sink>;
  private readonly statusUpdates: StatusUpdates | null;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private stopped = false;
  private lastStatusTick = 0;
  private lastPurge = 0;
  /** The read position while this process leads (read from the store again after a change of leader). */
  private position: number | null = null;
  /** When a PENDING delivery is next due, as last read; the store is asked again then, or after a while. */
  private nextDue = 0;
  private lastDueCheck = 0;
  /** Deliveries made since the deliveries were last looked at. */
  private made = 0;

  constructor(
    private readonly store: JobStore,
    private readonly deliveries: DeliveryStore,
    sinks: Sink[],
    o: OutboxOptions,
    private readonly log: Logger,
  ) {
    this.o = {
      source: o.source ?? DEFAULT_EVENT_SOURCE,
      pollMs: o.pollMs ?? 1000,
      batch: o.batch ?? 200,
      concurrency: o.concurrency ?? 8,
      holdMs: o.holdMs ?? 60_000,
      retry: o.retry ?? DEFAULT_RETRY_SCHEDULE,
      statusUpdateMs: o.statusUpdateMs ?? 60_000,
      retentionMs: o.retentionMs ?? 30 * 86_400_000,
      isLeader: o.isLeader ?? (() => true),
      observe: o.observe,
      now: o.now ?? (() => new Date()),
      random: o.random ?? Math.random,
    };
    this.sinks = new Map(sinks.map((s) => [s.name, s]));
    this.statusUpdates = this.o.statusUpdateMs > 0 ? new StatusUpdates(store, this.o.statusUpdateMs) : null;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.pass = this.runPass().finally(() => {
        this.pass = null;
        if (!this.stopped) this.timer = setTimeout(loop, this.o.pollMs);
      });
    };
    loop();
  }

  /** Stops reading and waits (at most `graceMs`) for attempts in flight; the rest are tried after a restart. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pending = [this.pass, ...this.inFlight].filter(Boolean);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise((r) => {
        t = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(t);
    for (const s of this.sinks.values()) await s.close?.().catch(() => {});
  }

  /** One pass: fan out what the log gained, start due deliveries, tick status updates; never throws. */
  private async runPass(): Promise<void> {
    if (!this.o.isLeader()) {
      this.position = null;
      return;
    }
    try {
      // A backlog (a restart after downtime): read on at once.
      while ((await this.fanOut()) === this.o.batch && !this.stopped) {}
      const now = this.o.now().getTime();
      // Idle, a pass is one indexed read of the log: the deliveries are looked at when some were just made,
      // when the earliest pending one falls due, or every few seconds (a redelivery asked of another replica).
      if (this.made > 0 || now >= this.nextDue || now - this.lastDueCheck >= DUE_CHECK_MS) {
        this.lastDueCheck = now;
        this.made = 0;
        await this.deliverDue();
        const due = await this.deliveries.nextDeliveryDue();
        this.nextDue = due ? new Date(due).getTime() : Number.POSITIVE_INFINITY;
      }
      if (this.statusUpdates && now - this.lastStatusTick >= Math.min(5_000, this.o.statusUpdateMs / 4)) {
        this.lastStatusTick = now;
        await this.statusUpdates.tick(new Date(now));
      }
      if (this.o.retentionMs > 0 && now - this.lastPurge >= 3_600_000) {
        this.lastPurge = now;
        const purged = await this.deliveries.purgeDeliveries(new Date(now - this.o.retentionMs));
        if (purged > 0) this.log.info({ purged }, 'finished deliveries purged');
      }
    } catch (err) {
      this.log.warn({ err }, 'outbox pass failed; trying again shortly');
    }
  }

  /** Fans out the next batch of the log; returns how many events were read. */
  async fanOut(): Promise<number> {
    let position = this.position ?? (await this.deliveries.outboxPosition(SINKS_CONSUMER));
    if (position === null) {
      // The migration that made the outbox set its start (delivery-tables.ts); a store without it starts
      // at the head, so history is not replayed.
      position = (await this.store.lastEventId()) ?? 0;
      await this.deliveries.enqueueDeliveries(SINKS_CONSUMER, position, [], this.o.now());
      this.log.info({ position }, 'outbox starts at the head of the job-event log');
    }
    this.position = position;
    const events = await this.store.eventsAfter(position, this.o.batch);
    if (events.length === 0) return 0;
    const told = events.flatMap((e) => {
      // The parts of a chunked job are not news: its own events (split, progress, complete) are.
      if (e.job?.parentId) return [];
      const event = toCloudEvent(e, this.o.source);
      return event ? [{ e, event }] : [];
    });
    const made: NewDelivery[] = [];
    for (const sink of this.sinks.values()) {
      const cloudEvents = told.map((t) => t.event);
      const targets = sink.targetsOf
        ? await sink.targetsOf(cloudEvents)
        : await Promise.all(cloudEvents.map((event) => sink.targets(event)));
      told.forEach(({ e, event }, i) => {
        for (const target of targets[i] ?? []) {
          made.push({ sink: sink.name, target, eventId: e.id, jobId: e.jobId, event });
        }
      });
    }
    const upTo = events[events.length - 1]?.id ?? position;
    try {
      await this.deliveries.enqueueDeliveries(SINKS_CONSUMER, upTo, made, this.o.now());
    } catch (err) {
      this.position = null; // read it again: the write may or may not have landed
      throw err;
    }
    this.position = upTo;
    this.made += made.length;
    if (made.length > 0)
      this.log.debug({ events: events.length, deliveries: made.length }, 'events fanned out');
    return events.length;
  }

  /** Starts the due deliveries the free attempt slots allow. */
  async deliverDue(): Promise<number> {
    const free = this.o.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped) return 0;
    const due = await this.deliveries.claimDueDeliveries(this.o.now(), free, this.o.holdMs);
    for (const d of due) {
      const p = this.attempt(d).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    return due.length;
  }

  /** Looks at the deliveries on the next pass (a user asked for a redelivery). */
  poke(): void {
    this.nextDue = 0;
  }

  /** Waits for the attempts in flight (tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private async attempt(d: Delivery): Promise<void> {
    const sink = this.sinks.get(d.sink);
    const started = this.o.now();
    const attempt = d.attempts + 1;
    let outcome: DeliveryOutcome;
    if (!sink) {
      outcome = {
        ok: false,
        retry: false,
        error: `the ${d.sink} sink is not configured on this server any more`,
      };
    } else {
      try {
        outcome = await sink.deliver(d);
      } catch (err) {
        outcome = { ok: false, retry: true, error: (err as Error).message ?? String(err) };
      }
    }
    const now = this.o.now();
    const durationMs = now.getTime() - started.getTime();
    let status: DeliveryStatus;
    let next: Date | null = null;
    let observed: DeliveryObservation;
    if (outcome.ok) {
      status = 'DELIVERED';
      observed = 'delivered';
    } else if (outcome.disableTarget) {
      status = 'FAILED';
      observed = 'disabled';
    } else {
      next = outcome.retry
        ? nextAttemptAt(
            this.o.retry,
            new Date(d.createdAt),
            attempt,
            now,
            this.o.random(),
            outcome.retryAfterMs,
          )
        : null;
      status = next ? 'PENDING' : 'FAILED';
      observed = next ? 'retrying' : 'failed';
    }
    try {
      await this.deliveries.recordDeliveryAttempt(
        {
          deliveryId: d.id,
          attempt,
          at: started.toISOString(),
          durationMs,
          ok: outcome.ok,
          statusCode: outcome.statusCode ?? null,
          error: outcome.ok ? null : outcome.error,
        },
        { status, ...(next ? { nextAttemptAt: next.toISOString() } : {}) },
        now,
      );
      if (!outcome.ok && outcome.disableTarget && sink) {
        await sink.disableTarget?.(d.target, outcome.error, now);
        const discarded = await this.deliveries.discardDeliveries(d.sink, d.target, now);
        this.log.warn({ sink: d.sink, target: d.target, discarded, error: outcome.error }, 'target disabled');
      }
    } catch (err) {
      // The hold lapses and the delivery is tried again: at least once, never lost.
      this.log.warn({ err, delivery: d.id }, 'could not record a delivery attempt');
    }
    this.o.observe?.(d.sink, observed, durationMs);
    const level = outcome.ok ? 'debug' : status === 'FAILED' ? 'warn' : 'info';
    this.log[level](
      {
        delivery: d.id,
        sink: d.sink,
        target: d.target,
        job: d.jobId,
        type: d.event.type,
        attempt,
        status,
        ...(outcome.ok ? {} : { error: outcome.error, statusCode: outcome.statusCode }),
        ...(next ? { nextAttemptAt: next.toISOString() } : {}),
      },
      outcome.ok
        ? 'event delivered'
        : status === 'FAILED'
          ? 'delivery failed for good'
          : 'delivery will be retried',
    );
  }
}
