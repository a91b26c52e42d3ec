// A webhook receiver for tests: a real node:http server on loopback that records every request (headers,
// raw body) and answers as the test tells it to. It can be made to listen late (connections refused
// until then) and to hang without answering.
import http from 'node:http';
import type net from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  answer: (req: ReceivedRequest) => Answer = () => ({ status: 204 });
  private server: http.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  /** Listens on `port` (0: a free one) and returns the port. */
  async listen(port = 0): Promise<number> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: Object.fromEntries(
            Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
          ),
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(r);
        const a = this.answer(r);
        if (a === 'hang') return;
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.body ?? '');
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return (server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
