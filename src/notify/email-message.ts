// The mail a COMPLETE or ERROR job event becomes: a plain-text summary a person reads in any client (input,
// outputs with the HLS/DASH entry points first, how long it took, and for ERROR the code, message and
// what to do), the same as simple escaped HTML, and a Message-ID derived from the CloudEvent id, so a
// retried delivery is the same message to a mail system that deduplicates. Pure: the same event and rule
// always give the same message.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { JobOutput } from '../jobs/job.ts';
import type { JobCloudEvent } from './cloud-event.ts';
import type { EmailRule } from './email-rules.ts';
import { errorHint } from './error-hints.ts';

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  /** `<…@…>`: stable per event and rule. */
  messageId: string;
  headers: Record<string, string>;
}

/** Outputs shown in one mail; the rest is counted (GET /v1/jobs/:id lists them all). */
const MAX_OUTPUTS = 40;
/** Entry points first: the manifests a player is given, then the files a person downloads. */
const OUTPUT_ORDER = [
  'hls',
  'dash',
  'mp4',
  'audio-rendition',
  'rendition',
  'thumbnail',
  'sprites',
  'segments',
];

/** Control characters (CR/LF above all) out of anything that ends up in a header; long values cut. */
export function headerSafe(s: string, max = 120): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const flat = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min ${s % 60} s` : `${m} min ${s % 60} s`;
}

function between(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? ms : null;
}

function sortedOutputs(outputs: readonly JobOutput[]): JobOutput[] {
  const rank = (t: string) => {
    const i = OUTPUT_ORDER.indexOf(t);
    return i === -1 ? OUTPUT_ORDER.length : i;
  };
  return [...outputs].sort((a, b) => rank(a.type) - rank(b.type) || a.key.localeCompare(b.key));
}

/** The domain of a Message-ID: the sender's, when it is a plain host name. */
function messageDomain(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m?.[1] && /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(m[1]) ? m[1] : 'sluice.localhost';
}

/** `<evt_…_12.rule.3f2a…@example.com>`: the event, and which rule (two rules may mail the same person). */
export function messageIdOf(event: Pick<JobCloudEvent, 'id'>, rule: string, from: string): string {
  const local = event.id.replace(/[^A-Za-z0-9_.-]/g, '_');
  const ruleTag = createHash('sha256').update(rule).digest('hex').slice(0, 12);
  return `<${local}.${ruleTag}@${messageDomain(from)}>`;
}

export interface EmailMessageOptions {
  from: string;
  /** The API's base URL, for a link to the job (absent: none shown). */
  apiUrl?: string | undefined;
}

export function emailMessage(event: JobCloudEvent, rule: EmailRule, o: EmailMessageOptions): EmailMessage {
  const job = event.data.job;
  const jobId = job?.id ?? event.subject.replace(/^jobs\//, '');
  const isError = event.type === 'sluice.job.error';
  const status = isError ? 'ERROR' : event.type === 'sluice.job.complete' ? 'COMPLETE' : (job?.status ?? '');
  const name = job ? path.posix.basename(job.input.key) || job.input.key : jobId;
  const subject = headerSafe(`[Sluice] ${status} ${headerSafe(name, 80)} (${jobId})`, 200);

  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(11)} ${value}`);
  lines.push(isError ? `Job ${jobId} ended in ERROR.` : `Job ${jobId} is ${status}.`, '');
  if (job) {
    row(
      'Input',
      `${job.input.bucket}/${job.input.key}${job.input.size !== undefined ? ` (${formatBytes(job.input.size)})` : ''}`,
    );
    row('Template', job.template);
    row('Pipeline', job.pipeline);
    row('Status', status);
    row('Attempts', `${job.attempts} of ${job.maxAttempts}`);
    const encode = between(job.startedAt, job.finishedAt);
    if (encode !== null)
      row('Duration', `${formatDuration(encode)} (last attempt, ${job.startedAt} to ${job.finishedAt})`);
    const wall = between(job.createdAt, job.finishedAt ?? event.time);
    if (wall !== null) row('Wall time', `${formatDuration(wall)} since it was submitted at ${job.createdAt}`);
    if (isError && job.error) {
      lines.push('', `Error:      ${job.error.code}`, `Message:    ${job.error.message}`);
      lines.push(`What to do: ${errorHint(job.error.code, jobId)}`);
    }
    if (job.outputs.length > 0) {
      lines.push('', `Outputs (${job.destination.bucket}/${job.destination.prefix}):`);
      const shown = sortedOutputs(job.outputs).slice(0, MAX_OUTPUTS);
      const width = Math.max(...shown.map((x) => x.type.length));
      for (const x of shown) {
        const size = formatBytes(x.size);
        lines.push(`  ${x.type.padEnd(width)}  ${x.bucket}/${x.key}${size ? `  ${size}` : ''}`);
      }
      if (job.outputs.length > shown.length)
        lines.push(
          `  … and ${job.outputs.length - shown.length} more (GET /v1/jobs/${jobId} lists them all)`,
        );
    }
    const meta = Object.entries(job.userMetadata);
    if (meta.length > 0) {
      lines.push('', 'User metadata:');
      for (const [k, v] of meta.sort(([a], [b]) => a.localeCompare(b))) lines.push(`  ${k}: ${v}`);
    }
  } else {
    lines.push(
      '(this event was recorded before job summaries were kept: `sluice job ID` shows the job)'.replace(
        'ID',
        jobId,
      ),
    );
  }
  lines.push('');
  if (o.apiUrl) lines.push(`Details:    ${o.apiUrl.replace(/\/$/, '')}/v1/jobs/${jobId}`);
  lines.push(`CLI:        sluice job ${jobId}`);
  lines.push(`Event:      ${event.id} (${event.type}) at ${event.time}`);
  lines.push('', `-- Sent by Sluice for the email rule "${rule.name}".`);
  const text = `${lines.join('\n')}\n`;
  const html = [
    '<!doctype html><html><body>',
    `<h3 style="font-family:sans-serif">${escapeHtml(`${status}: ${name}`)}</h3>`,
    `<pre style="font-family:monospace;white-space:pre-wrap">${escapeHtml(text)}</pre>`,
    '</body></html>',
  ].join('\n');
  return {
    subject,
    text,
    html,
    messageId: messageIdOf(event, rule.name, o.from),
    headers: {
      // RFC 3834: automatic mail, so vacation responders do not answer it.
      'Auto-Submitted': 'auto-generated',
      'X-Sluice-Event-Id': headerSafe(event.id),
      'X-Sluice-Event-Type': event.type,
      'X-Sluice-Job-Id': headerSafe(jobId),
    },
  };
}
