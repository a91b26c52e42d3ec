// One Server-Sent Events response (text/event-stream) on a hijacked Fastify reply: the headers that keep
// proxies from buffering or caching it, the reconnect hint, comment keep-alives, and a bound on what the
// server holds for a client that stopped reading.
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseOptions {
  /** The `retry:` hint: how long a client waits before reconnecting after a drop. */
  retryMs: number;
  /** A comment line this often, so proxies and clients see a live connection (default 15 s). */
  keepAliveMs: number;
  /**
   * Bytes the response may hold unsent (Node's writable buffer, above what the kernel's socket buffer
   * took): past it the client is not reading, and the connection is dropped rather than buffer without
   * bound. It resumes from its Last-Event-ID when it reconnects.
   */
  maxBufferedBytes: number;
}

export interface SseMessage {
  /** The log position; absent for progress messages (they do not move the client's Last-Event-ID). */
  id?: number;
  event: string;
  data: unknown;
}

export class SseConnection {
  private readonly keepAlive: NodeJS.Timeout;
  private closed = false;
  private readonly onClose: Array<() => void> = [];

  constructor(
    private readonly req: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly o: SseOptions,
  ) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx buffers proxied responses unless told not to.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // The retry hint, and a first line that makes the headers go out now.
    res.write(`retry: ${o.retryMs}\n: connected\n\n`);
    // An event stream is long-lived by design: no socket timeout (the slow-client guard lifted the idle
    // one when the request arrived; Node's request timeout is off for every request).
    const socket = req.raw.socket as { setTimeout?: (ms: number) => void } | undefined;
    socket?.setTimeout?.(0);
    this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), o.keepAliveMs);
    this.keepAlive.unref();
    res.once('close', () => this.finish());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls `fn` once when the stream ends, whoever ended it. */
  onEnd(fn: () => void): void {
    if (this.closed) fn();
    else this.onClose.push(fn);
  }

  send(m: SseMessage): void {
    const id = m.id === undefined ? '' : `id: ${m.id}\n`;
    // JSON.stringify leaves no raw newline in its output: one data line.
    this.write(`${id}event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
  }

  /**
   * Ends the stream (the server stops) and its connection: kept alive for another request, it would hold
   * a stopping server's close for the keep-alive timeout.
   */
  end(): void {
    if (this.closed) return;
    const socket = this.reply.raw.socket;
    this.reply.raw.end(() => socket?.destroy());
    this.finish();
  }

  private write(text: string): void {
    if (this.closed) return;
    const res = this.reply.raw;
    res.write(text);
    if (res.writableLength > this.o.maxBufferedBytes) {
      this.req.log.warn(
        { buffered: res.writableLength, maxBufferedBytes: this.o.maxBufferedBytes },
        'event stream: the client is not reading; connection dropped (it may resume with Last-Event-ID)',
      );
      res.destroy();
      this.finish();
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    for (const fn of this.onClose.splice(0)) fn();
  }
}
