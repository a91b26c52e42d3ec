// The machine's NATS JetStream (127.0.0.1:4222) for the events tests: a connection closed after the
// test, names of its own for each test (stream and subject prefix, so tests never share a stream or
// overlap subjects), the stream deleted after, and a durable pull consumer that reads what arrived.
import { randomBytes } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface StreamedMessage {
  subject: string;
  seq: number;
  headers: Record<string, string>;
  data: Record<string, unknown>;
}

export async function natsFixture(t: { after: (fn: () => Promise<void>) => void }) {
  const id = randomBytes(4).toString('hex');
  const stream = `SLUICE_EVENTS_TEST_${id}`;
  const prefix = `sluice-test.${id}.events`;
  const nc = await connect({ servers: NATS_URL }).catch((err: Error) => {
    throw new Error(`NATS JetStream must run at ${NATS_URL} for this test: ${err.message}`);
  });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  t.after(async () => {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  });
  /** Every message in the stream from the start, through a durable pull consumer of that name. */
  async function readAll(durable: string, expected: number, timeoutMs = 10_000): Promise<StreamedMessage[]> {
    const has = await jsm.consumers.info(stream, durable).then(
      () => true,
      () => false,
    );
    if (!has) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    }
    const consumer = await js.consumers.get(stream, durable);
    const out: StreamedMessage[] = [];
    const end = Date.now() + timeoutMs;
    while (out.length < expected && Date.now() < end) {
      const batch = await consumer.fetch({ max_messages: expected - out.length, expires: 1000 });
      for await (const m of batch) {
        const h: Record<string, string> = {};
        for (const [k, v] of m.headers ?? []) h[k] = v[0] ?? '';
        out.push({ subject: m.subject, seq: m.seq, headers: h, data: m.json() });
        m.ack();
      }
    }
    return out;
  }
  return { id, stream, prefix, nc, jsm, js, readAll };
}
