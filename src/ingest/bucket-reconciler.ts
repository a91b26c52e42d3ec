// The full reconcile of a bucket against the ledger of seen object versions: one listing (ObjectStore.list)
// and one ledger query, compared in memory. Every object whose version is not in the ledger goes to the
// settle queue; ledger entries of keys no longer listed are removed. It runs at start, at a slow interval
// (SLUICE_RECONCILE_SECONDS) and soon after a watcher error; on a local folder it catches what the OS
// dropped (inotify overflow), and for a store that sends no notifications it IS the bucket poller, its
// cursor the persisted ledger. Never more often than asked: `soon` only moves the next run earlier.
import type { Logger } from 'pino';
import type { ObjectStore } from '../storage/object-store.ts';
import type { SeenObjectStore } from './seen-objects.ts';
import type { SettleQueue } from './settle-queue.ts';

export interface ReconcileResult {
  listed: number;
  /** Objects handed to the settle queue (not in the ledger at this version). */
  unseen: number;
  /** Ledger entries removed because their key is gone. */
  forgotten: number;
}

export class BucketReconciler {
  private timer: NodeJS.Timeout | null = null;
  private nextAt = Number.POSITIVE_INFINITY;
  private running: Promise<ReconcileResult | null> | null = null;
  private stopped = true;

  constructor(
    private readonly store: ObjectStore,
    private readonly seen: SeenObjectStore,
    private readonly settle: SettleQueue,
    private readonly options: { bucket: string; intervalMs: number },
    private readonly log: Logger,
  ) {}

  /** Reconciles now, then every intervalMs. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Moves the next reconcile to within `delayMs` (a watcher error); a nearer one already set stays. */
  soon(delayMs = 1000): void {
    if (!this.stopped) this.schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One full reconcile; exposed for tests. Runs do not overlap: a second call waits for the first. */
  async runOnce(): Promise<ReconcileResult> {
    while (this.running) await this.running;
    const run = this.reconcile();
    this.running = run.catch(() => null);
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  private schedule(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.timer && at >= this.nextAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAt = at;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    this.nextAt = Number.POSITIVE_INFINITY;
    try {
      const r = await this.runOnce();
      this.log.debug({ bucket: this.options.bucket, ...r }, 'bucket reconciled');
    } catch (err) {
      this.log.error({ err, bucket: this.options.bucket }, 'bucket reconcile failed; trying again later');
    }
    if (!this.stopped && !this.timer) this.schedule(this.options.intervalMs);
  }

  private async reconcile(): Promise<ReconcileResult> {
    const { bucket } = this.options;
    const [objects, ledger] = await Promise.all([this.store.list(bucket), this.seen.seenObjects(bucket)]);
    const listed = new Set<string>();
    let unseen = 0;
    for (const object of objects) {
      listed.add(object.key);
      if (ledger.get(object.key) === object.etag) continue;
      unseen++;
      this.settle.notice(object.key, object);
    }
    const gone = [...ledger.keys()].filter((k) => !listed.has(k));
    const forgotten = gone.length > 0 ? await this.seen.forgetSeen(bucket, gone) : 0;
    return { listed: objects.length, unseen, forgotten };
  }
}
