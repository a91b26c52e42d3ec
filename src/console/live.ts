// Live updates over Server-Sent Events (docs/notifications.md). EventSource reconnects by itself and
// resumes with Last-Event-ID, so nothing is missed across a dropped connection; the page only shows
// whether it is live. Messages are named by their CloudEvent type, so each type is listened to.
import { NOTIFICATION_TYPES } from '../notify/cloud-event.ts';
import { ApiError, get, sessionEnded } from './api.ts';
import type { JobView, Progress, Status } from './types.ts';

export const PROGRESS_TYPE = 'sluice.job.progress';

/** How many connections in a row may fail while resuming from an event before the resume point goes. */
const RESUME_ATTEMPTS = 3;

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
  /**
   * The stream is back after it had closed: events in the gap may not have been replayed (none was
   * seen yet to resume from, or the resume point was given up), so the page reloads what it shows.
   */
  onResync?(): void;
}

/**
 * Follows a stream until the returned function is called. EventSource retries a dropped connection
 * itself (with Last-Event-ID); when it gives up (an answer other than the stream: 503 while a server
 * stops, 401 once the session ended, a proxy's error page), the session is checked first: an ended one
 * shows the "sign in again" banner and the stream stays closed; otherwise a new one resumes from the
 * last event seen, after a pause. EventSource cannot tell an answer's status, so a server refusing the
 * resume point looks like any failure: after RESUME_ATTEMPTS of them in a row, the stream starts afresh.
 */
export function openStream(url: string, handlers: LiveHandlers): () => void {
  let lastSeq: number | null = null;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let failedResumes = 0;
  let gap = false;
  const connect = () => {
    if (stopped) return;
    const resume = lastSeq === null ? url : `${url}${url.includes('?') ? '&' : '?'}lastEventId=${lastSeq}`;
    const es = new EventSource(resume, { withCredentials: true });
    source = es;
    let opened = false;
    es.onopen = () => {
      opened = true;
      failedResumes = 0;
      handlers.onState?.('live');
      if (gap) {
        gap = false;
        handlers.onResync?.();
      }
    };
    es.onerror = () => {
      if (stopped) return;
      if (es.readyState !== EventSource.CLOSED) return handlers.onState?.('reconnecting');
      handlers.onState?.('closed');
      gap = true;
      if (!opened && lastSeq !== null && ++failedResumes >= RESUME_ATTEMPTS) {
        lastSeq = null;
        failedResumes = 0;
      }
      void reconnect();
    };
    for (const type of NOTIFICATION_TYPES) {
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
  const reconnect = async () => {
    try {
      const session = await get<{ required: boolean; authenticated: boolean }>('/v1/session');
      if (stopped) return;
      if (session.required && !session.authenticated) {
        sessionEnded();
        return;
      }
    } catch (err) {
      // A 401 has shown the banner already (api.ts); any other failure (the server is down) is retried.
      if (stopped || (err instanceof ApiError && err.status === 401)) return;
    }
    timer = setTimeout(connect, 5000);
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

/** A throttled call: `cancel()` drops a pending one (the page was left). */
export interface Throttled {
  (): void;
  cancel(): void;
}

/** Calls `fn` at most once per `ms`, the last call winning (counts refetched on a burst of changes). */
export function throttle(fn: () => void, ms: number): Throttled {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const call = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
  return Object.assign(call, {
    cancel: () => {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  });
}
