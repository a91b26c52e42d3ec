// A test's reader of one Server-Sent Events response: fetch over real HTTP, parsed by the CLI's own
// parser (src/cli/event-stream-client.ts), every message kept in order; no reconnecting (a test drops and
// reconnects by hand, to see what it gets).
import { type SseEvent, SseParser } from '../src/cli/event-stream-client.ts';
import { waitFor } from './helpers.ts';

export interface SseReader {
  status: number;
  headers: Headers;
  /** Every message so far, in arrival order. */
  messages: SseEvent[];
  /** Raw text so far (comments included). */
  raw(): string;
  /** True once the server ended the response (or the connection broke). */
  ended(): boolean;
  /** Resolves when it ends. */
  done: Promise<void>;
  /** Waits until `pred` holds for the messages so far. */
  until(what: string, pred: (m: SseEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ctl.signal });
  const messages: SseEvent[] = [];
  let raw = '';
  let ended = false;
  let markDone = () => {};
  const done = new Promise<void>((r) => {
    markDone = r;
  });
  const parser = new SseParser();
  const body = res.body;
  if (res.ok && body && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    void (async () => {
      try {
        const reader = body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          raw += value;
          messages.push(...parser.push(value));
        }
      } catch {
        // aborted or reset: ended below
      }
      ended = true;
      markDone();
    })();
  } else {
    raw = await res.text();
    ended = true;
    markDone();
  }
  return {
    status: res.status,
    headers: res.headers,
    messages,
    raw: () => raw,
    ended: () => ended,
    done,
    until: (what, pred, timeoutMs = 30_000) =>
      waitFor(what, async () => pred(messages), timeoutMs).then(() => undefined),
    close: () => ctl.abort(),
  };
}
