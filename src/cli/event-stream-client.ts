// A small Server-Sent Events client over Node's fetch: the text/event-stream parser of the HTML spec
// (fields, comments, multi-line data, `retry:`), and a reader that reconnects after a dropped connection
// with Last-Event-ID and a capped, jittered backoff, so what it hands on has no gap and no repeat.
import { isErrorCode, SluiceError } from '../errors.ts';

export interface SseEvent {
  /** The `id:` field of this message; undefined when it had none (a progress message). */
  id: string | undefined;
  /** The last id seen on the stream so far (what a reconnect sends as Last-Event-ID). */
  lastEventId: string;
  event: string;
  data: string;
}

/** The event-stream parser: feed it text as it arrives, get whole messages back. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  lastEventId = '';
  /** The server's `retry:` hint, in ms. */
  retryMs: number | undefined;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.buffer);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const e = this.line(line);
      if (e) out.push(e);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      const dispatch = this.data.length > 0;
      const e: SseEvent = {
        id: this.id,
        lastEventId: this.lastEventId,
        event: this.event || 'message',
        data: this.data.join('\n'),
      };
      this.data = [];
      this.event = '';
      this.id = undefined;
      return dispatch ? e : null;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
      this.lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }
}

export interface EventStreamOptions {
  url: string;
  token?: string;
  /** Resume after this id (Last-Event-ID); absent: the stream's own start. */
  lastEventId?: string;
  /** Each message; return true to stop reading (the stream is closed). */
  onEvent(e: SseEvent): boolean;
  /** Called before each reconnect, with the error that ended the connection. */
  onReconnect?(err: Error, attempt: number): void;
  /** Connection attempts in a row that may fail before giving up (default 10, about a minute). */
  maxAttempts?: number;
  /** A stream that brings nothing (not even the 15 s keep-alive) this long is taken as dead; default 45 s. */
  idleMs?: number;
  signal?: AbortSignal;
}

/** The server does not serve this stream (an older Sluice): the caller polls instead. */
export class StreamUnsupported extends Error {}

/**
 * Reads an event stream until `onEvent` returns true. A dropped connection (or one the server ended) is
 * reopened with the last id as Last-Event-ID, after 0.5 s doubling to 10 s with full jitter; an answer
 * of 404 or 406, or one that is not an event stream, throws StreamUnsupported; other errors are thrown.
 */
export async function readEventStream(o: EventStreamOptions): Promise<void> {
  let lastEventId = o.lastEventId ?? '';
  let failures = 0;
  const maxAttempts = o.maxAttempts ?? 10;
  for (;;) {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => ctl.abort(new Error('no data (not even a keep-alive) for too long')),
        o.idleMs ?? 45_000,
      );
    };
    const parser = new SseParser();
    parser.lastEventId = lastEventId;
    let err: Error;
    try {
      arm();
      const res = await fetch(o.url, {
        headers: {
          accept: 'text/event-stream',
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        signal: ctl.signal,
      });
      const type = res.headers.get('content-type') ?? '';
      if (res.status === 404 || res.status === 406 || (res.ok && !type.startsWith('text/event-stream'))) {
        await res.body?.cancel();
        throw new StreamUnsupported(`${o.url} answered ${res.status} ${type || 'without a content type'}`);
      }
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => '');
        let code: string | undefined;
        let detail = text;
        try {
          const p = JSON.parse(text) as { code?: string; detail?: string };
          code = p.code;
          detail = p.detail ?? text;
        } catch {}
        // Busy or restarting: worth another try; anything else (401, 400) is the answer.
        if (res.status !== 502 && res.status !== 503 && res.status !== 504) {
          throw new SluiceError(
            isErrorCode(code) ? code : 'NOT_SLUICE',
            detail || `${o.url} answered ${res.status}`,
          );
        }
        throw new Error(`${o.url} answered ${res.status}${code ? ` ${code}` : ''}`);
      }
      failures = 0;
      const decoder = new TextDecoderStream();
      const reader = res.body.pipeThrough(decoder).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        for (const e of parser.push(value)) {
          lastEventId = parser.lastEventId;
          if (o.onEvent(e)) {
            await reader.cancel().catch(() => {});
            return;
          }
        }
        lastEventId = parser.lastEventId;
      }
      err = new Error('the server ended the stream');
    } catch (e) {
      if (e instanceof StreamUnsupported || e instanceof SluiceError) throw e;
      if (o.signal?.aborted) return;
      err = e instanceof Error ? e : new Error(String(e));
      failures++;
    } finally {
      clearTimeout(idle);
      o.signal?.removeEventListener('abort', onAbort);
    }
    if (failures >= maxAttempts) {
      throw new SluiceError(
        'SERVER_UNREACHABLE',
        `lost the event stream ${o.url} and could not reconnect (${err.message}); is \`sluice serve\` running?`,
      );
    }
    o.onReconnect?.(err, failures);
    const cap = Math.min(10_000, 500 * 2 ** Math.max(0, failures - 1), parser.retryMs ?? 10_000);
    await new Promise((r) => setTimeout(r, Math.max(100, Math.random() * cap)));
  }
}
