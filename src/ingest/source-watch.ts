// The EventSource for a bucket that Sluice watches itself: object versions that stopped changing become
// object-created events, each version once across restarts (the seen-objects ledger). A local folder is
// watched through filesystem notifications (folder-watcher.ts) and reconciled in full at start and every
// `reconcileMs`; any other store (S3 without event notifications) is only reconciled, the reconcile being
// the bucket poller. Either way nothing lists the bucket more often than `reconcileMs`.
import type { Logger } from 'pino';
import { LocalObjectStore } from '../storage/local-object-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { BucketReconciler } from './bucket-reconciler.ts';
import { FolderWatcher } from './folder-watcher.ts';
import type { ObjectEvent } from './object-event.ts';
import type { SeenObjectStore } from './seen-objects.ts';
import { SettleQueue } from './settle-queue.ts';
import type { SkipNotice } from './skip-log.ts';

export interface SourceWatchOptions {
  bucket: string;
  /** How long an object must stay unchanged before it is taken as fully written (SLUICE_SETTLE_MS). */
  settleMs: number;
  /** The full reconcile's interval (SLUICE_RECONCILE_SECONDS). */
  reconcileMs: number;
  /** Filesystem notifications for a local store (default true); false: the reconcile alone. */
  notifications?: boolean;
  /** How soon after a watcher error the bucket is reconciled. */
  afterErrorMs?: number;
  retryMs?: number;
}

export class SourceWatch {
  readonly settle: SettleQueue;
  readonly reconciler: BucketReconciler;
  /** The filesystem watcher, when the store is local and notifications are on and working. */
  folder: FolderWatcher | null = null;

  constructor(
    private readonly store: ObjectStore,
    seen: SeenObjectStore,
    private readonly options: SourceWatchOptions,
    onEvent: (event: ObjectEvent) => Promise<void>,
    private readonly log: Logger,
    onSkip?: (notice: SkipNotice) => Promise<void>,
  ) {
    this.settle = new SettleQueue(
      store,
      seen,
      {
        bucket: options.bucket,
        settleMs: options.settleMs,
        retryMs: options.retryMs,
        listingIsFinal: store.replacesAtomically === true,
      },
      onEvent,
      log,
      onSkip,
    );
    this.reconciler = new BucketReconciler(
      store,
      seen,
      this.settle,
      { bucket: options.bucket, intervalMs: options.reconcileMs },
      log,
    );
  }

  /** Subscribes first, then reconciles: nothing lands between the listing and the subscription unseen. */
  async start(): Promise<void> {
    if (this.store instanceof LocalObjectStore && this.options.notifications !== false) {
      const folder = new FolderWatcher(
        this.store,
        this.options.bucket,
        this.settle,
        (err) => this.watcherFailed(err),
        this.log,
      );
      try {
        await folder.start();
        this.folder = folder;
      } catch (err) {
        this.log.warn(
          { err, bucket: this.options.bucket, reconcileMs: this.options.reconcileMs },
          'filesystem notifications unavailable; the bucket is only reconciled at the reconcile interval',
        );
      }
    }
    this.reconciler.start();
    this.log.info(
      {
        bucket: this.options.bucket,
        notifications: this.folder !== null,
        reconcileMs: this.options.reconcileMs,
      },
      'watching source bucket',
    );
  }

  /** The filesystem watcher reported an error (events may be lost): reconcile soon. */
  watcherFailed(err: Error): void {
    this.log.warn(
      { err, bucket: this.options.bucket },
      'filesystem watcher error; reconciling the bucket soon',
    );
    this.reconciler.soon(this.options.afterErrorMs ?? 1000);
  }

  async stop(): Promise<void> {
    await this.folder?.stop();
    await this.reconciler.stop();
    await this.settle.stop();
  }
}
