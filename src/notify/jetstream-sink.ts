// Job events for downstream consumers on NATS JetStream: every told event is published as a structured
// CloudEvent (`content-type: application/cloudevents+json`, plus the ce-* headers of the CloudEvents NATS
// binding for consumers that route on headers) on `<prefix>.<type>`, the type without its `sluice.`
// (`sluice.events.job.complete`, `sluice.events.input.information`). `Nats-Msg-Id` is the CloudEvent id, so
// a delivery repeated after a lost ack is dropped by the stream's duplicate window rather than stored
// twice. Consumers read the stream with their own durable consumers; the outbox only publishes.
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../errors.ts';
import type { JobCloudEvent } from './cloud-event.ts';
import type { Delivery, DeliveryOutcome, Sink } from './sink.ts';

export interface JetStreamSinkOptions {
  url: string;
  stream: string;
  /** Subjects are `<subjectPrefix>.<type without "sluice.">`; a stream Sluice makes takes `<prefix>.>`. */
  subjectPrefix: string;
  /** The stream's duplicate window, when Sluice makes it. */
  duplicateWindowMs: number;
  /** How long a stream Sluice makes keeps events (0: no limit). */
  maxAgeMs: number;
  /** How long one publish waits for the stream's ack. */
  publishTimeoutMs: number;
}

/** `sluice.job.complete` → `<prefix>.job.complete`. */
export function subjectOf(prefix: string, type: string): string {
  return `${prefix}.${type.replace(/^sluice\./, '')}`;
}

export class JetStreamSink implements Sink {
  readonly name = 'jetstream';
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  /** Checked (made if missing) once per connection, and again after a publish found no stream. */
  private streamReady = false;
  /** Deliveries handed over together (one outbox pass), published one at a time in log order. */
  private queue: { d: Delivery; done: (o: DeliveryOutcome) => void }[] = [];
  private draining = false;

  constructor(
    private readonly o: JetStreamSinkOptions,
    private readonly log: Logger,
  ) {}

  /** Connects and makes the stream if it is missing; a server that cannot reach NATS does not start. */
  async start(): Promise<void> {
    try {
      await this.ensureStream();
    } catch (err) {
      await this.close();
      throw new SluiceError(
        'NATS_UNREACHABLE',
        `cannot publish job events to JetStream at ${this.o.url} (stream ${this.o.stream}): ${(err as Error).message}; check SLUICE_EVENTS_NATS_URL and that the server runs with JetStream`,
      );
    }
    this.log.info(
      { url: this.o.url, stream: this.o.stream, subjects: `${this.o.subjectPrefix}.>` },
      'publishing job events to JetStream',
    );
  }

  private async connection(): Promise<NatsConnection> {
    if (this.nc && !this.nc.isClosed()) return this.nc;
    this.nc = await connect({
      servers: this.o.url,
      name: 'sluice-events',
      timeout: this.o.publishTimeoutMs,
      // Reconnects forever: the outbox keeps undelivered events meanwhile.
      maxReconnectAttempts: -1,
    });
    this.js = null;
    this.streamReady = false;
    return this.nc;
  }

  private async ensureStream(): Promise<JetStreamClient> {
    const nc = await this.connection();
    if (!this.streamReady) {
      const jsm = await jetstreamManager(nc, { timeout: this.o.publishTimeoutMs });
      const exists = await jsm.streams.info(this.o.stream).then(
        () => true,
        () => false,
      );
      // An existing stream is the operator's (its subjects, limits, replicas): used as it is.
      if (!exists) {
        await jsm.streams.add({
          name: this.o.stream,
          subjects: [`${this.o.subjectPrefix}.>`],
          duplicate_window: nanos(this.o.duplicateWindowMs),
          max_age: nanos(this.o.maxAgeMs),
        });
        this.log.info({ stream: this.o.stream }, 'JetStream stream for job events made');
      }
      this.streamReady = true;
    }
    this.js ??= jetstream(nc, { timeout: this.o.publishTimeoutMs });
    return this.js;
  }

  async targets(_event: JobCloudEvent): Promise<string[]> {
    return [this.o.stream];
  }

  /**
   * The outbox starts a pass's attempts together, in no guaranteed order; a stream's order is the order
   * publishes arrive. So deliveries are queued, and each batch is published one at a time sorted by log
   * position: a job's events land in the order of its event log. (A publish that fails is retried later,
   * after events behind it may have gone out; `data.event.seq` is the log order either way.)
   */
  deliver(d: Delivery): Promise<DeliveryOutcome> {
    return new Promise((done) => {
      this.queue.push({ d, done });
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.queue.splice(0).sort((a, b) => a.d.eventId - b.d.eventId);
      if (batch.length === 0) {
        this.draining = false;
        return;
      }
      for (const { d, done } of batch) done(await this.publish(d));
    }
  }

  private async publish(d: Delivery): Promise<DeliveryOutcome> {
    const e = d.event;
    try {
      const js = await this.ensureStream();
      const h = headers();
      h.set('content-type', 'application/cloudevents+json');
      h.set('ce-specversion', e.specversion);
      h.set('ce-id', e.id);
      h.set('ce-type', e.type);
      h.set('ce-source', e.source);
      h.set('ce-subject', e.subject);
      h.set('ce-time', e.time);
      const ack = await js.publish(subjectOf(this.o.subjectPrefix, e.type), JSON.stringify(e), {
        msgID: e.id,
        headers: h,
        timeout: this.o.publishTimeoutMs,
        expect: { streamName: this.o.stream },
      });
      if (ack.duplicate) this.log.debug({ id: e.id, seq: ack.seq }, 'JetStream had the event already');
      return { ok: true };
    } catch (err) {
      // No stream answered (deleted under us, or not yet back): check it again on the next attempt.
      this.streamReady = false;
      const error = `JetStream ${this.o.stream}: ${(err as Error).message}`;
      this.log.warn({ id: e.id, err: error }, 'job event not published; retried later');
      return { ok: false, retry: true, error };
    }
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.js = null;
    await nc?.drain().catch(() => {});
  }
}

/** The JetStream sink of a server's configuration (SLUICE_EVENTS_NATS_URL), or none. */
export function jetStreamSinkFrom(config: Config, log: Logger): JetStreamSink | null {
  if (!config.eventsNatsUrl) return null;
  return new JetStreamSink(
    {
      url: config.eventsNatsUrl,
      stream: config.eventsNatsStream,
      subjectPrefix: config.eventsNatsSubjectPrefix,
      duplicateWindowMs: config.eventsNatsDuplicateWindowSeconds * 1000,
      maxAgeMs: config.eventsNatsMaxAgeSeconds * 1000,
      publishTimeoutMs: config.eventsNatsPublishTimeoutMs,
    },
    log,
  );
}
