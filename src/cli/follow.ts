// Follows a job until it ends, drawing a progress bar (percent, phase, fps, speed, ETA) on a terminal and
// a line per change of state elsewhere. It reads the job's live event stream (SSE: the job's events and
// the progress between them), resuming with Last-Event-ID after a dropped connection; only a server
// without the stream (an older one: 404/406, or JSON) is polled instead.
import cliProgress from 'cli-progress';
import type { JobView } from '../api/job-view.ts';
import { FINAL_STATUSES, type JobStatus } from '../jobs/job.ts';
import type { JobSummary } from '../jobs/job-summary.ts';
import type { JobCloudEvent } from '../notify/cloud-event.ts';
import type { ProgressUpdate } from '../notify/event-feed.ts';
import { PROGRESS_EVENT_TYPE } from '../notify/event-filter.ts';
import type { ApiClient } from './api-client.ts';
import { StreamUnsupported } from './event-stream-client.ts';

/** What the bar and the lines show: a job view, a summary from an event, or a progress message. */
type Shown = Pick<JobView, 'status' | 'phase' | 'progress'> & { id?: string; jobId?: string };

export async function followJob(api: ApiClient, id: string, intervalMs = 500): Promise<JobView> {
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {percentage}% | {state} | {fps} fps | {speed} | ETA {etaText}',
      hideCursor: true,
      noTTYOutput: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let job = await api.getJob(id);
  const interactive = Boolean(process.stderr.isTTY);
  if (interactive) bar.start(100, 0, fields(job));
  let lastState = '';
  const show = (s: Shown) => {
    if (interactive) bar.update(Math.floor(s.progress.percent), fields(s));
    else {
      const state = `${s.status} ${s.phase ?? ''} ${Math.floor(s.progress.percent / 25) * 25}%`;
      if (state !== lastState) process.stderr.write(`${job.id}: ${state}\n`);
      lastState = state;
    }
  };
  show(job);
  if (!FINAL_STATUSES.includes(job.status)) {
    try {
      await api.followEvents(job.id, {
        onEvent: (e) => {
          if (e.event === PROGRESS_EVENT_TYPE) {
            const p = JSON.parse(e.data) as ProgressUpdate;
            show(p);
            return false;
          }
          const ce = JSON.parse(e.data) as JobCloudEvent;
          const summary: JobSummary | null = ce.data.job;
          const status = (summary?.status ?? ce.data.event.toStatus) as JobStatus | null;
          if (summary) show(summary);
          return status !== null && FINAL_STATUSES.includes(status);
        },
      });
    } catch (err) {
      if (!(err instanceof StreamUnsupported)) throw err;
      // An older server: poll the job instead.
      while (!FINAL_STATUSES.includes(job.status)) {
        await new Promise((r) => setTimeout(r, intervalMs));
        job = await api.getJob(id);
        show(job);
      }
    }
    job = await api.getJob(job.id);
  }
  if (interactive) {
    if (job.status === 'COMPLETE') bar.update(100, fields(job));
    bar.stop();
  } else show(job);
  return job;
}

function fields(job: Shown) {
  const p = job.progress;
  return {
    state: job.phase ?? job.status,
    fps: p.fps?.toFixed(0) ?? '-',
    speed: p.speed ? `${p.speed.toFixed(2)}x` : '-',
    etaText: p.etaSeconds !== null ? `${p.etaSeconds}s` : '-',
  };
}
