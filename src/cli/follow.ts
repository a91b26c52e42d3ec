// Follows a job until it ends, drawing a progress bar (percent, phase, fps, speed, ETA) on a terminal.
import cliProgress from 'cli-progress';
import type { JobView } from '../api/job-view.ts';
import { FINAL_STATUSES } from '../jobs/job.ts';
import type { ApiClient } from './api-client.ts';

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
  while (!FINAL_STATUSES.includes(job.status)) {
    await new Promise((r) => setTimeout(r, intervalMs));
    job = await api.getJob(id);
    if (interactive) bar.update(Math.floor(job.progress.percent), fields(job));
    else {
      const state = `${job.status} ${job.phase ?? ''} ${Math.floor(job.progress.percent / 25) * 25}%`;
      if (state !== lastState) process.stderr.write(`${job.id}: ${state}\n`);
      lastState = state;
    }
  }
  if (interactive) {
    if (job.status === 'COMPLETE') bar.update(100, fields(job));
    bar.stop();
  }
  return job;
}

function fields(job: JobView) {
  const p = job.progress;
  return {
    state: job.phase ?? job.status,
    fps: p.fps?.toFixed(0) ?? '-',
    speed: p.speed ? `${p.speed.toFixed(2)}x` : '-',
    etaText: p.etaSeconds !== null ? `${p.etaSeconds}s` : '-',
  };
}
