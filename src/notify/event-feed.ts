// One live view of the job-event log per server process, shared by every event-stream subscriber (SSE):
// one poll loop reads the log (JobStore.eventsAfter) and the PROGRESSING jobs' progress, and fans both
// out to all subscribers, so a thousand open streams cost one query per tick, not a thousand. The loop
// runs only while someone listens. It polls the store rather than listening to this process's own
// writes: on PostgreSQL several replicas share the store, and each replica's streams must show the jobs
// the others run.
//
// Resuming without a gap or a repeat. A subscriber starts at a log position (the Last-Event-ID it was
// given, or null: the log's start) and first catches up from the store on its own, a page per tick. The
// feed keeps its last `ringSize` events read (the ring: every event after position B up to the feed's
// position F, in log order), and a catching-up subscriber joins the live fan-out when either
//  - its position is in the ring: it gets the ring's events after it, then everything live; or
//  - its last catch-up page was not full (it had read all there was) and its position is not in the
//    ring: then its position is at or before B, so it gets the whole ring, then everything live.
// Both rest on one ordering: a tick reads the catch-up pages first and the feed's own page after, so
// every position a subscriber reached was visible before the feed read, hence at or before F; not being
// in (B, F] then means being at or before B. The log order is the store's (id order on SQLite,
// transaction order on PostgreSQL); positions are compared only by membership, never by number.
import type { Logger } from 'pino';
import type { JobStore } from '../jobs/job-store.ts';
import { type JobSummary, jobSummary } from '../jobs/job-summary.ts';
import type { LoggedEvent } from './cloud-event.ts';

/** What a progress message says: the live figures the heartbeats put on the job row (no event). */
export interface ProgressUpdate {
  jobId: string;
  status: JobSummary['status'];
  phase: JobSummary['phase'];
  progress: JobSummary['progress'];
}

export interface FeedSubscriber {
  /** The log position to go on after; null: from the log's start (narrowed by `jobId`). */
  after: number | null;
  /** Only this job's events are read while catching up (the store filters; `matches` still applies). */
  jobId?: string;
  matches(e: LoggedEvent): boolean;
  matchesJob(job: JobSummary): boolean;
  event(e: LoggedEvent): void;
  progress(p: ProgressUpdate): void;
  /** The feed closed (the server stops): end the stream. */
  end(): void;
}

export interface EventFeedOptions {
  /** How often the loop reads the log and the progress of running jobs (default 300 ms). */
  pollMs?: number;
  /** Events kept for subscribers joining live (default 2000). */
  ringSize?: number;
  /** Events read per query (default 500). */
  pageSize?: number;
}

interface Sub {
  s: FeedSubscriber;
  live: boolean;
  /** The last catch-up page was full: there may be more to read before joining. */
  more: boolean;
}

export class EventFeed {
  private readonly subs = new Set<Sub>();
  private readonly pollMs: number;
  private readonly ringSize: number;
  private readonly pageSize: number;
  /** The feed's log position; undefined until the loop first runs (then: the newest event). */
  private cursor: number | null | undefined;
  private ring: LoggedEvent[] = [];
  private readonly ringIndex = new Map<number, LoggedEvent>();
  /** The last progress seen per PROGRESSING job (JSON of phase and figures), to send only changes. */
  private progressSeen = new Map<string, { key: string; job: JobSummary }>();
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly log: Logger,
    o: EventFeedOptions = {},
  ) {
    this.pollMs = o.pollMs ?? 300;
    this.ringSize = o.ringSize ?? 2000;
    this.pageSize = o.pageSize ?? 500;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** True once close() was called: no new subscriber is taken. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Adds a subscriber; returns its unsubscribe. The loop starts with the first subscriber. */
  subscribe(s: FeedSubscriber): () => void {
    if (this.closed) {
      s.end();
      return () => {};
    }
    const sub: Sub = { s, live: false, more: true };
    this.subs.add(sub);
    if (!this.running) this.running = this.loop();
    else this.wake?.();
    return () => {
      this.subs.delete(sub);
    };
  }

  /** Ends every subscription and stops the loop (the server stops). */
  async close(): Promise<void> {
    this.closed = true;
    const subs = [...this.subs];
    this.subs.clear();
    for (const sub of subs) sub.s.end();
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (!this.closed && this.subs.size > 0) {
        let failed = false;
        try {
          await this.tick();
        } catch (err) {
          if (this.closed) break;
          failed = true;
          this.log.warn({ err }, 'event feed: reading the job-event log failed; trying again');
        }
        // A subscriber with more to catch up on goes on at once; otherwise (or after a failure, so a
        // store that is down is not hammered) wait for the next poll.
        if (!failed && [...this.subs].some((sub) => !sub.live && sub.more)) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    } finally {
      // Stopped with the last subscriber: a later one starts afresh from the newest event, so nothing
      // stale is kept meanwhile.
      this.running = null;
      this.cursor = undefined;
      this.ring = [];
      this.ringIndex.clear();
      this.progressSeen.clear();
      if (!this.closed && this.subs.size > 0) this.running = this.loop();
    }
  }

  private async tick(): Promise<void> {
    if (this.cursor === undefined) this.cursor = await this.store.lastEventId();
    // 1. Catch-up pages, read before the feed's own (see the top of the file).
    const joining = [...this.subs].filter((sub) => !sub.live);
    for (const sub of joining) {
      if (!sub.more) continue;
      const filter = sub.s.jobId !== undefined ? { jobId: sub.s.jobId } : {};
      const page = await this.store.eventsAfter(sub.s.after, this.pageSize, filter);
      if (!this.subs.has(sub)) continue;
      for (const e of page) {
        if (sub.s.matches(e)) sub.s.event(e);
        sub.s.after = e.id;
      }
      sub.more = page.length === this.pageSize;
    }
    // 2. The feed's read, to the end of what is visible.
    const batch: LoggedEvent[] = [];
    for (;;) {
      const page = await this.store.eventsAfter(this.cursor, this.pageSize);
      for (const e of page) {
        batch.push(e);
        this.ring.push(e);
        this.ringIndex.set(e.id, e);
        this.cursor = e.id;
      }
      if (page.length < this.pageSize) break;
    }
    // 3. Already-live subscribers get the batch; joining ones the ring from their position.
    for (const sub of this.subs) {
      if (!sub.live) continue;
      for (const e of batch) if (sub.s.matches(e)) sub.s.event(e);
    }
    for (const sub of joining) {
      if (!this.subs.has(sub)) continue;
      const at = sub.s.after === null ? undefined : this.ringIndex.get(sub.s.after);
      if (!at && sub.more) continue;
      const from = at ? this.ring.indexOf(at) + 1 : 0;
      for (const e of this.ring.slice(from)) if (sub.s.matches(e)) sub.s.event(e);
      sub.live = true;
      // A subscriber joining mid-encode sees where the job is at once, not at its next change.
      for (const { job } of this.progressSeen.values())
        if (sub.s.matchesJob(job)) sub.s.progress(progressOf(job));
    }
    // 4. The ring keeps its newest events (trimmed after joining, so B never passes a page read above).
    if (this.ring.length > this.ringSize) {
      for (const e of this.ring.splice(0, this.ring.length - this.ringSize)) this.ringIndex.delete(e.id);
    }
    // 5. Progress of the running jobs: one query, changes fanned out.
    if ([...this.subs].some((sub) => sub.live)) await this.pollProgress();
  }

  private async pollProgress(): Promise<void> {
    const running = await this.store.list({ status: 'PROGRESSING', limit: 1000 });
    const seen = new Map<string, { key: string; job: JobSummary }>();
    for (const job of running) {
      const summary = jobSummary(job);
      const key = JSON.stringify([summary.phase, summary.progress]);
      seen.set(job.id, { key, job: summary });
      if (this.progressSeen.get(job.id)?.key === key) continue;
      for (const sub of this.subs)
        if (sub.live && sub.s.matchesJob(summary)) sub.s.progress(progressOf(summary));
    }
    this.progressSeen = seen;
  }
}

function progressOf(job: JobSummary): ProgressUpdate {
  return { jobId: job.id, status: job.status, phase: job.phase, progress: job.progress };
}
