// Seed 004's claim check from a durable stream: object-created events (any format the HTTP route
// reads: S3 Records, CloudEvents, OCI Events) as message data on NATS JetStream, read by a durable pull
// consumer. A message is acknowledged only once ingest recorded its jobs; a retryable failure is naked
// with a delay (redelivered later); a message that can never be read is terminated (logged, never
// redelivered). A process stopped before its ack leaves the message to be redelivered after ack_wait:
// the redelivery finds the job its first delivery made (the idempotency key), so no second job.
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { EventIntake } from './event-intake.ts';
import type { Headers } from './notifications/read-notification.ts';
import { readDelivery } from './notifications/read-notification.ts';

export interface JetStreamSourceOptions {
  url: string;
  stream: string;
  subject: string;
  consumer: string;
  /** How long a delivered message may go unacknowledged before JetStream redelivers it. */
  ackWaitMs: number;
  /** Delay of a nak after a retryable failure. */
  retryDelayMs: number;
}

export class JetStreamSource {
  private nc: NatsConnection | null = null;
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly o: JetStreamSourceOptions,
    private readonly intake: EventIntake,
    private readonly log: Logger,
  ) {}

  /** Connects, makes the stream (if missing) and the durable consumer (made or updated), and consumes. */
  async start(): Promise<void> {
    const nc = await connect({ servers: this.o.url, name: 'sluice-ingest' }).catch((err: Error) => {
      throw new SluiceError(
        'NATS_UNREACHABLE',
        `cannot connect to NATS at ${this.o.url}: ${err.message}; check SLUICE_NATS_URL and that the server runs with JetStream`,
      );
    });
    this.nc = nc;
    try {
      const jsm = await jetstreamManager(nc);
      const exists = await jsm.streams.info(this.o.stream).then(
        () => true,
        () => false,
      );
      // An existing stream is the operator's: used as it is. A missing one is made for the subject.
      if (!exists) await jsm.streams.add({ name: this.o.stream, subjects: [this.o.subject] });
      const config = {
        durable_name: this.o.consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: this.o.subject,
        ack_wait: nanos(this.o.ackWaitMs),
        max_deliver: -1,
      };
      const has = await jsm.consumers.info(this.o.stream, this.o.consumer).then(
        () => true,
        () => false,
      );
      if (has) await jsm.consumers.update(this.o.stream, this.o.consumer, { ack_wait: config.ack_wait });
      else await jsm.consumers.add(this.o.stream, config);
      const consumer = await jetstream(nc).consumers.get(this.o.stream, this.o.consumer);
      this.messages = await consumer.consume({ max_messages: 16 });
    } catch (err) {
      await nc.close().catch(() => {});
      this.nc = null;
      throw err instanceof SluiceError
        ? err
        : new SluiceError('NATS_UNREACHABLE', `JetStream stream ${this.o.stream}: ${(err as Error).message}`);
    }
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((err) => this.log.error({ err }, 'JetStream consumer stopped'));
    this.log.info(
      { url: this.o.url, stream: this.o.stream, subject: this.o.subject, consumer: this.o.consumer },
      'consuming object events from JetStream',
    );
  }

  /** One message: acknowledged once ingest returned, naked when retryable, terminated when unreadable. */
  async handle(m: JsMsg): Promise<void> {
    const where = { stream: this.o.stream, seq: m.seq, deliveries: m.info.deliveryCount };
    let notification: ReturnType<typeof readDelivery>;
    try {
      const headers: Headers = {};
      for (const [k, v] of m.headers ?? []) headers[k.toLowerCase()] = v[0];
      notification = readDelivery(headers, Buffer.from(m.data));
      if (notification.kind !== 'events') {
        throw new SluiceError(
          'EVENT_FORMAT_UNSUPPORTED',
          'SNS envelopes are taken over HTTP, not from a stream',
        );
      }
    } catch (err) {
      const e = err instanceof SluiceError ? err : new SluiceError('EVENT_MALFORMED', String(err));
      this.log.error(
        { ...where, code: e.code, err: e.message },
        'JetStream message terminated: not a readable event',
      );
      // No reason with the term: servers before 2.10 ignore a +TERM that carries one (redelivering forever).
      m.term();
      return;
    }
    try {
      const s = await this.intake.take(notification.notification, `nats://${this.o.stream}/${m.subject}`);
      await m.ackAck().catch((err: Error) => {
        // Not confirmed: JetStream redelivers, and the redelivery finds the job made.
        this.log.warn({ ...where, err: err.message }, 'JetStream ack not confirmed');
      });
      this.log.debug({ ...where, created: s.created, duplicates: s.duplicates }, 'JetStream message taken');
    } catch (err) {
      if (err instanceof SluiceError && !err.retryable) {
        this.log.error(
          { ...where, code: err.code, err: err.message },
          'JetStream message terminated: refused',
        );
        m.term();
        return;
      }
      this.log.warn(
        { ...where, err: (err as Error).message },
        'JetStream message not taken; redelivered later',
      );
      m.nak(this.o.retryDelayMs);
    }
  }

  /** Stops consuming; messages not acknowledged yet are redelivered (to this or another process). */
  async stop(): Promise<void> {
    await this.messages?.close().catch(() => {});
    await this.loop;
    await this.nc?.drain().catch(() => {});
    this.nc = null;
  }
}
