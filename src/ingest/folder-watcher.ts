// Filesystem notifications for a local bucket folder, through @parcel/watcher (native: one inotify watch
// per folder, events coalesced into batches off the JavaScript thread; chokidar would hold one fs.watch
// per file, 10,000 inotify watches for 10,000 files). An event is only a hint that something changed at
// a path: the settle queue stats the object itself through the store, which never follows a link.
//
// Links: the watcher does not descend into linked folders; a link that appears is reported as the
// listing reports it (LocalObjectStore.reportLink) and never offered. A folder that appears (mkdir, or a
// folder moved in whole) is listed once, so files it brought are not missed. A watcher error (the kernel
// queue overflowed, the folder went away) is passed on: the source watch reconciles soon.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AsyncSubscription, Event } from '@parcel/watcher';
import type { Logger } from 'pino';
import type { LocalObjectStore } from '../storage/local-object-store.ts';
import type { SettleQueue } from './settle-queue.ts';

export class FolderWatcher {
  private subscription: AsyncSubscription | null = null;
  private readonly dir: string;

  constructor(
    private readonly store: LocalObjectStore,
    private readonly bucket: string,
    private readonly settle: SettleQueue,
    private readonly onError: (err: Error) => void,
    private readonly log: Logger,
  ) {
    this.dir = path.join(store.root, bucket);
  }

  get running(): boolean {
    return this.subscription !== null;
  }

  /** Subscribes; throws when the native watcher cannot load or watch (the caller falls back to polling). */
  async start(): Promise<void> {
    await this.store.ensureBucket(this.bucket);
    const watcher = await import('@parcel/watcher');
    const subscribe =
      watcher.subscribe ?? (watcher as unknown as { default: typeof watcher }).default.subscribe;
    this.subscription = await subscribe(
      this.dir,
      (err, events) => {
        if (err) {
          this.onError(err);
          return;
        }
        void this.handle(events).catch((e: unknown) => this.onError(e as Error));
      },
      process.platform === 'linux' ? { backend: 'inotify' } : {},
    );
  }

  /**
   * Never throws: folders removed under the watcher take their inotify watches with them, and parcel's
   * unsubscribe then fails ("Unable to remove watcher: Invalid argument") on watches already gone.
   */
  async stop(): Promise<void> {
    const s = this.subscription;
    this.subscription = null;
    await s?.unsubscribe().catch((err: unknown) => {
      this.log.debug({ err, bucket: this.bucket }, 'watcher already gone with its folder');
    });
  }

  private async handle(events: Event[]): Promise<void> {
    if (!this.subscription) return;
    for (const e of events) {
      const rel = path.relative(this.dir, e.path);
      if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) continue;
      const key = rel.split(path.sep).join('/');
      if (e.type === 'delete') {
        this.settle.notice(key); // a pending one is dropped once its stat finds nothing
        continue;
      }
      const st = await fs.lstat(e.path).catch(() => null);
      if (!st) {
        this.settle.notice(key);
      } else if (st.isSymbolicLink()) {
        await this.store.reportLink(this.bucket, key);
      } else if (st.isDirectory()) {
        // Files that arrived with a folder (moved in whole) may have no events of their own.
        const objects = await this.store.list(this.bucket, `${key}/`).catch((err: unknown) => {
          this.log.warn({ err, key }, 'new folder not listed; the next reconcile will');
          return [];
        });
        for (const o of objects) this.settle.notice(o.key, o);
      } else {
        this.settle.notice(key);
      }
    }
  }
}
