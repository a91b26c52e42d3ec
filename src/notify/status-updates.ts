// MediaConvert's STATUS_UPDATE: while a job is PROGRESSING, an event with its phase and progress every
// interval (10 s to 10 min), so a subscriber sees a long job alive without polling. Each one is a
// job:status-update event in the job's history, told like any other. Run by the leader only.
import type { JobStore } from '../jobs/job-store.ts';

export const STATUS_UPDATE_SECONDS = { min: 10, max: 600, default: 60 } as const;

export class StatusUpdates {
  /** When each PROGRESSING job was last told (or first seen): the clock restarts with a new leader. */
  private readonly last = new Map<string, number>();

  constructor(
    private readonly store: Pick<JobStore, 'list' | 'recordStatusUpdate'>,
    private readonly intervalMs: number,
  ) {}

  /** Records the updates due at `now`; returns how many. */
  async tick(now: Date): Promise<number> {
    const running = await this.store.list({ status: 'PROGRESSING', limit: 1000 });
    const seen = new Set<string>();
    let told = 0;
    for (const job of running) {
      seen.add(job.id);
      const since = this.last.get(job.id);
      if (since === undefined) {
        this.last.set(job.id, now.getTime());
        continue;
      }
      if (now.getTime() - since < this.intervalMs) continue;
      this.last.set(job.id, now.getTime());
      if (await this.store.recordStatusUpdate(job.id, now)) told++;
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
    return told;
  }
}
