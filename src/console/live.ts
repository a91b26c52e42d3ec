// Live updates over Server-Sent Events (docs/notifications.md). EventSource reconnects by itself and
// resumes with Last-Event-ID, so nothing is missed across a dropped connection; the page only shows
// whether it is live. Messages are named by their CloudEvent type, so each type is listened to.
import type { JobView, Progress, Status } from './types.ts';

export const EVENT_TYPES = [
  'sluice.job.submitted',
  'sluice.job.progressing',
  'sluice.input.information',
  'sluice.job.status_update',
  'sluice.job.complete',
  'sluice.job.error',
  'sluice.job.canceled',
] as const;
export const PROGRESS_TYPE = 'sluice.job.progress';

export interface JobEventMessage {
  type: string;
  seq: number | null;
  event: { seq: number; type: string; fromStatus: string | null; toStatus: string | null; details?: unknown };
  job: JobView;
}

export interface ProgressMessage {
  jobId: string;
  status: Status;
  phase: string | null;
  progress: Progress;
}

export interface LiveHandlers {
  onEvent?(message: JobEventMessage): void;
  onProgress?(message: ProgressMessage): void;
  /** 'live' once connected, 'reconnecting' while EventSource retries, 'closed' when it gave up. */
  onState?(state: 'live' | 'reconnecting' | 'closed'): void;
}

/**
 * Follows a stream until the returned function is called. EventSource retries a dropped connection
 * itself (with Last-Event-ID); when it gives up (an answer other than the stream: 503 while a server
 * stops, a proxy's error page), a new one resumes from the last event seen, after a pause.
 */
export function openStream(url: string, handlers: LiveHandlers): () => void {
  let lastSeq: number | null = null;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const connect = () => {
    const resume = lastSeq === null ? url : `${url}${url.includes('?') ? '&' : '?'}lastEventId=${lastSeq}`;
    const es = new EventSource(resume, { withCredentials: true });
    source = es;
    es.onopen = () => handlers.onState?.('live');
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) return handlers.onState?.('reconnecting');
      handlers.onState?.('closed');
      if (!stopped) timer = setTimeout(connect, 5000);
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        const cloud = parse((e as MessageEvent).data) as { data?: { event?: unknown; job?: unknown } } | null;
        const event = cloud?.data?.event as JobEventMessage['event'] | undefined;
        const job = cloud?.data?.job as JobView | undefined;
        if (!event || !job) return;
        const seq = typeof event.seq === 'number' ? event.seq : null;
        if (seq !== null) lastSeq = seq;
        handlers.onEvent?.({ type, seq, event, job });
      });
    }
    es.addEventListener(PROGRESS_TYPE, (e) => {
      const message = parse((e as MessageEvent).data) as ProgressMessage | null;
      if (message && typeof message.jobId === 'string') handlers.onProgress?.(message);
    });
  };
  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    source?.close();
  };
}

function parse(data: unknown): unknown {
  try {
    return typeof data === 'string' ? JSON.parse(data) : null;
  } catch {
    return null;
  }
}

/** Calls `fn` at most once per `ms`, the last call winning (counts refetched on a burst of changes). */
export function throttle(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}
