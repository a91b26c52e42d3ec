// Human output for the CLI: job tables, one-job details, the progress bar.
import Table from 'cli-table3';
import type { InputView } from '../api/input-routes.ts';
import type { JobView } from '../api/job-view.ts';
import { useColor } from './color.ts';

export function jobsTable(jobs: JobView[]): string {
  const table = new Table({
    head: ['ID', 'STATUS', 'PHASE', '%', 'ATTEMPTS', 'INPUT', 'TEMPLATE', 'CREATED'],
    // cli-table3 colours its head and borders wherever it writes: plain unless on a colour terminal.
    ...(useColor() ? {} : { style: { head: [], border: [] } }),
  });
  for (const j of jobs) {
    table.push([
      j.id,
      j.status,
      j.phase ?? '',
      j.progress.percent.toFixed(0),
      String(j.attempts),
      `${j.input.bucket}/${j.input.key}`,
      j.templateName,
      j.createdAt.replace('T', ' ').slice(0, 19),
    ]);
  }
  return jobs.length === 0 ? 'no jobs' : table.toString();
}

export function jobDetails(j: JobView): string {
  const lines = [
    `${j.id}  ${j.status}${j.phase ? ` (${j.phase})` : ''}  ${j.progress.percent.toFixed(1)}%`,
    `input:     ${j.input.bucket}/${j.input.key}   (${j.inputId}: \`sluice input ${j.inputId}\`)`,
    `pipeline:  ${j.pipeline}   priority: ${j.priority}`,
    `template:  ${j.templateName}   attempts: ${j.attempts}/${j.maxAttempts}`,
    ...(j.pool || j.preemptions > 0 || (j.offeredTo && j.offeredTo.length > 0)
      ? [
          `pool:      ${j.pool ?? '-'}${j.preemptions > 0 ? `   preemptions: ${j.preemptions}` : ''}${j.offeredTo ? `   offered to: ${j.offeredTo.join(', ')}` : ''}`,
        ]
      : []),
    `created:   ${j.createdAt}${j.startedAt ? `   started: ${j.startedAt}` : ''}${j.finishedAt ? `   finished: ${j.finishedAt}` : ''}`,
  ];
  const v = j.inputMedia?.video;
  if (j.inputMedia) {
    const a = j.inputMedia.audio;
    lines.push(
      `media:     ${j.inputMedia.container}, ${j.inputMedia.durationSeconds?.toFixed(2) ?? '?'} s` +
        (v ? `, ${v.codec} ${v.displayWidth}x${v.displayHeight} @ ${v.frameRate ?? '?'} fps` : ', no video') +
        (a ? `, ${a.codec} ${a.channels} ch` : ', no audio'),
    );
  }
  if (j.error) lines.push(`error:     ${j.error.code}: ${j.error.message}`);
  for (const o of j.outputs)
    lines.push(`output:    ${o.type.padEnd(9)} ${o.bucket}/${o.key}${o.size ? `  (${o.size} bytes)` : ''}`);
  return lines.join('\n');
}

/** An input and its jobs (one per pipeline), with the aggregate status. */
export function inputDetails(i: InputView): string {
  const lines = [`${i.id}  ${i.status}  ${i.input.bucket}/${i.input.key}`];
  const width = Math.max(...i.jobs.map((j) => j.pipeline.length));
  for (const j of i.jobs) {
    lines.push(
      `  ${j.pipeline.padEnd(width)}  ${j.id}  ${j.status.padEnd(11)} ${j.percent.toFixed(0).padStart(3)}%  ${j.destination.bucket}/${j.destination.prefix}${j.error ? `  ${j.error.code}` : ''}`,
    );
  }
  return lines.join('\n');
}
