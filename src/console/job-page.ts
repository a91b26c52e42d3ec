// One job: status and live progress (GET /v1/jobs/<id>/events as a stream), the input's media info, the
// plan (made here by the server's own planner from the job's template and probed media), the event
// timeline with attempts, the error with what to do, ffmpeg's stderr tail, the outputs, and a player.

import type { MediaInfo } from '../media/media-info.ts';
import { planJob } from '../templates/ladder.ts';
import type { Template } from '../templates/template.ts';
import { ApiError, describeError, get, post } from './api.ts';
import type { Stop } from './app.ts';
import {
  type Child,
  h,
  replace,
  section,
  setText,
  statusBadge,
  tableWrap,
  updateStatusBadge,
} from './dom.ts';
import {
  formatBitrate,
  formatBytes,
  formatDuration,
  formatElapsed,
  formatEta,
  formatFps,
  formatPercent,
  formatSpeed,
  formatTimestamp,
  outputPath,
  outputUrl,
} from './format.ts';
import { openStream, throttle } from './live.ts';
import { renderPlayer } from './player.ts';
import type { JobEvent, JobView, Output } from './types.ts';
import { templateNameOf } from './types.ts';
import { planSummary, planTable } from './upload.ts';

let hints: Promise<Record<string, string>> | null = null;
/** The "what to do" of every error code (errors.json, made from docs/errors.md by the build). */
function errorHints(): Promise<Record<string, string>> {
  const url = document.querySelector<HTMLMetaElement>('meta[name="sluice-errors"]')?.content;
  hints ??= url
    ? fetch(url)
        .then((r) => (r.ok ? (r.json() as Promise<Record<string, string>>) : {}))
        .catch(() => ({}))
    : Promise.resolve({});
  return hints;
}

const ACTIVE = new Set(['SUBMITTED', 'PROGRESSING']);
const RETRYABLE = new Set(['ERROR', 'CANCELED']);

export function renderJobPage(view: HTMLElement, id: string, setTitle: (t: string) => void): Stop {
  setTitle(`Job ${id}`);
  const stops: Stop[] = [];
  let job: JobView | null = null;
  let playerKey: string | null = null;
  // Set once the page is left: answers still in flight then change nothing (no player made, no timer).
  let stopped = false;

  const title = h('h1', null, id);
  const sub = h('p', { class: 'sub' });
  const status = statusBadge('…');
  const phase = h('span', { 'data-field': 'phase' }, '—');
  const attempts = h('span', { 'data-field': 'attempts' }, '—');
  const progress = h('progress', {
    'data-field': 'progress',
    max: '100',
    value: '0',
    'aria-label': 'Progress',
  });
  const percent = h('span', { class: 'pct big', 'data-field': 'percent' }, '—');
  const fps = h('dd', { 'data-field': 'fps' }, '—');
  const speed = h('dd', { 'data-field': 'speed' }, '—');
  const eta = h('dd', { 'data-field': 'eta' }, '—');
  const liveState = h('span', { class: 'live-state', role: 'status' }, 'Connecting…');
  const actionNote = h('p', { class: 'note', role: 'status' });
  const cancelButton = h(
    'button',
    { type: 'button', class: 'button danger', hidden: true, onclick: () => act('cancel') },
    'Cancel job',
  );
  const retryButton = h(
    'button',
    { type: 'button', class: 'button primary', hidden: true, onclick: () => act('retry') },
    'Retry job',
  );

  const errorBox = h('section', { id: 'error', class: 'panel error-panel', role: 'alert', hidden: true });
  const playerSlot = h('div', { class: 'player-slot' });
  const outputsBody = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  const mediaBody = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  const planBody = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  const timeline = h('ol', { id: 'timeline', class: 'timeline', 'aria-label': 'Events' });
  const stderr = h('pre', { id: 'stderr', class: 'stderr', 'aria-label': 'ffmpeg stderr', tabindex: '0' });
  const stderrSection = section('stderr-section', 'ffmpeg stderr', stderr);
  stderrSection.hidden = true;

  // Chunked jobs: the parts (chunks, audio, stitch), each a job of its own, shown while it is split.
  const partsBody = h('div', { class: 'parts' });
  const partsSection = section('parts', 'Parts', partsBody);
  partsSection.hidden = true;
  let partsShown = '';
  async function loadParts(j: JobView): Promise<void> {
    if (!j.split) {
      partsSection.hidden = true;
      return;
    }
    const { parts } = await get<{ parts: JobView[] }>(`/v1/jobs/${encodeURIComponent(id)}/parts`);
    if (stopped) return;
    const shown = JSON.stringify(parts.map((p) => [p.id, p.status, p.progress.percent, p.attempts]));
    if (shown === partsShown) return;
    partsShown = shown;
    partsSection.hidden = false;
    replace(partsBody, renderParts(parts));
  }

  const main = h(
    'main',
    { id: 'job', 'data-job-id': id, tabindex: '-1' },
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Jobs'),
      h('span', { 'aria-hidden': 'true' }, ' / '),
      h('span', { class: 'mono' }, id),
    ),
    h(
      'div',
      { class: 'page-head' },
      h('div', { class: 'head-text' }, title, sub),
      h('div', { class: 'actions' }, cancelButton, retryButton),
    ),
    actionNote,
    h(
      'section',
      { class: 'panel status-panel', 'aria-label': 'Status' },
      h(
        'div',
        { class: 'status-line' },
        status,
        h('span', { class: 'label' }, 'Phase'),
        phase,
        h('span', { class: 'label' }, 'Attempt'),
        attempts,
        liveState,
      ),
      h('div', { class: 'progress-line big' }, progress, percent),
      h(
        'dl',
        { class: 'stats inline' },
        h('div', null, h('dt', null, 'Speed'), speed),
        h('div', null, h('dt', null, 'Encoding'), fps),
        h('div', null, h('dt', null, 'Time left'), eta),
      ),
    ),
    errorBox,
    h(
      'div',
      { class: 'columns job-columns' },
      h(
        'div',
        { class: 'col-main' },
        section('player', 'Player', playerSlot),
        section('outputs', 'Outputs', outputsBody),
      ),
      h(
        'div',
        { class: 'col-side' },
        partsSection,
        section('media', 'Input', mediaBody),
        section('plan', 'Plan', planBody),
        section('timeline-section', 'Timeline', timeline),
      ),
    ),
    stderrSection,
  );
  view.append(main);

  function showStatus(j: Pick<JobView, 'status' | 'phase' | 'progress'> & Partial<JobView>): void {
    updateStatusBadge(status, j.status);
    setText(phase, j.phase ?? '—');
    const p = j.progress?.percent ?? 0;
    if (progress.value !== p) progress.value = p;
    setText(percent, formatPercent(p));
    setText(fps, formatFps(j.progress?.fps));
    setText(speed, formatSpeed(j.progress?.speed));
    setText(eta, j.status === 'PROGRESSING' ? formatEta(j.progress?.etaSeconds) : '—');
    if (j.attempts !== undefined && j.maxAttempts !== undefined)
      setText(attempts, `${j.attempts} of ${j.maxAttempts}`);
    cancelButton.hidden = !ACTIVE.has(j.status);
    retryButton.hidden = !RETRYABLE.has(j.status);
  }

  async function act(action: 'cancel' | 'retry'): Promise<void> {
    const button = action === 'cancel' ? cancelButton : retryButton;
    button.disabled = true;
    setText(actionNote, action === 'cancel' ? 'Canceling…' : 'Retrying…');
    try {
      const j = await post<JobView>(`/v1/jobs/${encodeURIComponent(id)}/${action}`);
      if (stopped) return;
      setText(actionNote, action === 'cancel' ? 'Cancel requested.' : 'Job resubmitted.');
      render(j);
    } catch (err) {
      if (stopped) return;
      setText(actionNote, `${action === 'cancel' ? 'Cancel' : 'Retry'} failed: ${describeError(err)}`);
    } finally {
      button.disabled = false;
      if (!stopped) refresh();
    }
  }

  function render(j: JobView): void {
    if (stopped) return;
    job = j;
    setText(title, j.input.key);
    setTitle(j.input.key);
    replace(
      sub,
      h('span', { class: 'mono' }, j.id),
      ' · ',
      `pipeline ${j.pipeline ?? '—'}`,
      ' · ',
      h(
        'a',
        { href: `#/templates/${encodeURIComponent(templateNameOf(j))}` },
        `template ${templateNameOf(j)}`,
      ),
      ' · ',
      `created ${formatTimestamp(j.createdAt)}`,
      j.finishedAt ? ` · took ${formatElapsed(j.startedAt ?? j.createdAt, j.finishedAt)}` : '',
      j.pool ? ` · pool ${j.pool}` : '',
    );
    showStatus(j);
    void renderError(j);
    setText(stderr, j.stderrTail ?? '');
    stderrSection.hidden = !j.stderrTail;
    renderMedia(mediaBody, j.inputMedia ?? null);
    renderPlan(planBody, j);
    renderOutputs(outputsBody, j);
    void loadParts(j).catch(() => {});
    const key = j.outputs.map((o) => o.key).join('\n');
    if (key !== playerKey) {
      playerKey = key;
      stopPlayer?.();
      const player = renderPlayer(j);
      stopPlayer = player.stop;
      replace(playerSlot, player.element);
    }
  }
  let stopPlayer: Stop | null = null;
  stops.push(() => stopPlayer?.());

  async function renderError(j: JobView): Promise<void> {
    if (!j.error) {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      return;
    }
    const hint = (await errorHints())[j.error.code];
    if (stopped || job !== j) return;
    replace(
      errorBox,
      h('h2', null, 'Error'),
      h('p', { class: 'error-code' }, h('code', { 'data-field': 'error-code' }, j.error.code)),
      h('p', { class: 'error-message', 'data-field': 'error-message' }, j.error.message),
      hint
        ? h('p', { class: 'error-hint', 'data-field': 'error-hint' }, h('strong', null, 'What to do: '), hint)
        : null,
    );
    errorBox.hidden = false;
  }

  async function loadTimeline(): Promise<void> {
    const { events } = await get<{ events: JobEvent[] }>(`/v1/jobs/${encodeURIComponent(id)}/events`);
    if (!stopped) renderTimeline(timeline, events);
  }

  async function load(): Promise<void> {
    if (stopped) return;
    try {
      render(await get<JobView>(`/v1/jobs/${encodeURIComponent(id)}`));
    } catch (err) {
      if (stopped) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(
          main,
          h('h1', null, 'Job not found'),
          h('p', null, describeError(err)),
          h('p', null, h('a', { href: '#/' }, 'Back to the jobs')),
        );
        stopAll();
        return;
      }
      setText(actionNote, `Could not load the job: ${describeError(err)}`);
    }
    if (stopped) return;
    await loadTimeline().catch((err) => {
      if (!stopped) replace(timeline, h('li', null, `Could not load the events: ${describeError(err)}`));
    });
  }
  const refresh = throttle(() => void load(), 700);
  stops.push(refresh.cancel);

  stops.push(
    openStream(`/v1/jobs/${encodeURIComponent(id)}/events`, {
      onState: (state) => {
        setText(
          liveState,
          state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Offline',
        );
        liveState.dataset.state = state;
      },
      // The stream replays the job's history first: the summaries bring the status up to date, and the
      // full view (outputs, stderr, media) and the timeline are fetched again after a change.
      onEvent: ({ job: summary }) => {
        if (job) showStatus({ ...job, ...summary });
        refresh();
      },
      onProgress: (m) => {
        if (job) showStatus({ ...job, status: m.status, phase: m.phase, progress: m.progress });
        // A split job's progress is its parts': their table follows it.
        if (job?.split) refresh();
      },
      onResync: () => refresh(),
    }),
  );
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    for (const s of stops) s();
  };
  void load();
  return stopAll;
}

function partLabel(p: JobView): string {
  const part = p.part;
  if (!part) return '—';
  return part.kind === 'chunk' ? `chunk ${part.index + 1} of ${part.of}` : part.kind;
}

/** A split job's parts: which part, its status and progress, its attempts and pool. */
function renderParts(parts: JobView[]): HTMLTableElement {
  return h(
    'table',
    { class: 'data parts-table' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Part'),
        h('th', null, 'Status'),
        h('th', null, 'Progress'),
        h('th', null, 'Attempts'),
        h('th', null, 'Pool'),
      ),
    ),
    h(
      'tbody',
      null,
      ...parts.map((p) =>
        h(
          'tr',
          { 'data-part-id': p.id },
          h('td', null, partLabel(p)),
          h('td', null, statusBadge(p.status)),
          h('td', null, formatPercent(p.status === 'COMPLETE' ? 100 : p.progress.percent)),
          h('td', null, String(p.attempts)),
          h('td', null, p.pool ?? '—'),
        ),
      ),
    ),
  );
}

function dl(pairs: [string, Child][]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  );
}

function renderMedia(el: HTMLElement, media: MediaInfo | null): void {
  if (!media) {
    replace(el, h('p', { class: 'note' }, 'Not probed yet.'));
    return;
  }
  const v = media.video;
  const a = media.audio;
  replace(
    el,
    dl([
      ['Container', media.container],
      ['Duration', formatDuration(media.durationSeconds)],
      ['Size', formatBytes(media.sizeBytes)],
      ['Bitrate', formatBitrate(media.bitRate)],
      ['Streams', String(media.streamCount)],
    ]),
    h('h3', null, 'Video'),
    v
      ? dl([
          ['Codec', v.codec],
          [
            'Resolution',
            `${v.displayWidth ?? v.width}×${v.displayHeight ?? v.height}${v.rotation ? ` (rotated ${v.rotation}°)` : ''}`,
          ],
          ['Frame rate', `${v.frameRate ?? '—'} fps${v.variableFrameRate ? ' (variable)' : ''}`],
          [
            'Pixels',
            `${v.pixelFormat ?? '—'}${v.bitDepth ? `, ${v.bitDepth}-bit` : ''}${v.hdr ? ', HDR' : ''}`,
          ],
          ['Bitrate', formatBitrate(v.bitRate)],
        ])
      : h('p', { class: 'note' }, 'No video stream.'),
    h('h3', null, 'Audio'),
    a
      ? dl([
          ['Codec', a.codec],
          ['Channels', `${a.channels}${a.channelLayout ? ` (${a.channelLayout})` : ''}`],
          ['Sample rate', a.sampleRate ? `${a.sampleRate} Hz` : '—'],
          ['Bitrate', formatBitrate(a.bitRate)],
        ])
      : h('p', { class: 'note' }, 'No audio stream.'),
  );
}

function renderPlan(el: HTMLElement, job: JobView): void {
  const settings = typeof job.template === 'object' ? job.template?.settings : undefined;
  if (!settings || !job.inputMedia) {
    replace(el, h('p', { class: 'note' }, 'The plan is made once the input is probed.'));
    return;
  }
  try {
    const plan = planJob(settings as Template, job.inputMedia);
    replace(
      el,
      tableWrap(planTable(plan, 'Renditions')),
      h('p', { class: 'hint' }, planSummary(plan)),
      plan.skipped?.length
        ? h(
            'ul',
            { class: 'hint' },
            plan.skipped.map((s) => h('li', null, `${s.part}: ${s.reason}`)),
          )
        : null,
    );
  } catch (err) {
    replace(el, h('p', { class: 'note' }, `No plan for this input: ${describeError(err)}`));
  }
}

const OUTPUT_ORDER = [
  'hls',
  'dash',
  'mp4',
  'rendition',
  'audio-rendition',
  'thumbnail',
  'sprites',
  'segments',
];

function renderOutputs(el: HTMLElement, job: JobView): void {
  if (job.outputs.length === 0) {
    replace(
      el,
      h(
        'p',
        { class: 'note' },
        job.outputsReplacedBy
          ? [
              'Replaced by a newer job: ',
              h('a', { href: `#/jobs/${encodeURIComponent(job.outputsReplacedBy)}` }, job.outputsReplacedBy),
            ]
          : job.status === 'COMPLETE'
            ? 'No outputs.'
            : 'Outputs appear when the job completes.',
      ),
    );
    return;
  }
  const sorted = [...job.outputs].sort((a, b) => rank(a) - rank(b));
  replace(
    el,
    h('p', { class: 'hint' }, `In ${job.destination.bucket}/${job.destination.prefix}/`),
    tableWrap(
      h(
        'table',
        { class: 'data outputs-table' },
        h('caption', { class: 'sr-only' }, 'Outputs'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Type', 'Key', 'Size', 'Measured bitrate'].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h(
          'tbody',
          null,
          sorted.map((o) => outputRow(job, o)),
        ),
      ),
    ),
  );
}

function rank(o: Output): number {
  const i = OUTPUT_ORDER.indexOf(o.type);
  return i < 0 ? OUTPUT_ORDER.length : i;
}

function outputRow(job: JobView, o: Output): HTMLTableRowElement {
  const rel = outputPath(o.key, job.destination.prefix) ?? o.key;
  const url = o.type === 'segments' ? null : outputUrl(job.id, o.key, job.destination.prefix);
  const a = o.analysis ?? {};
  const num = (k: string) => (typeof a[k] === 'number' ? (a[k] as number) : null);
  const avg = num('averageBitrate');
  const peak = num('peakBitrate');
  const target = num('targetBitrate');
  const size = num('width') && num('height') ? `${num('width')}×${num('height')}` : null;
  const details = [
    peak !== null && peak !== avg ? `peak ${formatBitrate(peak)}` : null,
    target !== null ? `target ${formatBitrate(target)}` : null,
    size,
  ].filter((d): d is string => d !== null);
  return h(
    'tr',
    { 'data-output-type': o.type },
    h(
      'td',
      { 'data-label': 'Type' },
      o.type,
      typeof a.name === 'string' ? h('span', { class: 'meta' }, ` ${a.name}`) : null,
    ),
    h(
      'td',
      { 'data-label': 'Key', class: 'key-cell' },
      url ? h('a', { href: url, title: o.key }, rel) : h('span', { title: o.key }, rel),
    ),
    h('td', { 'data-label': 'Size', class: 'num' }, formatBytes(o.size)),
    h(
      'td',
      { 'data-label': 'Measured bitrate', class: 'bitrate-cell' },
      avg !== null ? formatBitrate(avg) : '—',
      details.length ? h('div', { class: 'meta' }, details.join(' · ')) : null,
    ),
  );
}

function renderTimeline(el: HTMLOListElement, events: JobEvent[]): void {
  let attempt = 0;
  replace(
    el,
    events.map((e) => {
      const d = (e.data ?? {}) as Record<string, unknown>;
      if (typeof d.attempt === 'number') attempt = d.attempt;
      // A retried ERROR or CANCELED job starts a fresh set of attempts.
      if (e.type === 'job:resubmitted') attempt = 0;
      const err = d.error as { code?: string; message?: string } | undefined;
      const transition =
        e.fromStatus && e.toStatus && e.fromStatus !== e.toStatus
          ? `${e.fromStatus} → ${e.toStatus}`
          : (e.toStatus ?? '');
      const detail = [
        typeof d.phase === 'string' ? d.phase : null,
        typeof d.reason === 'string' ? d.reason : null,
        typeof d.pool === 'string' ? `pool ${d.pool}` : null,
        typeof d.outputs === 'number' ? `${d.outputs} outputs` : null,
        typeof d.percent === 'number' ? formatPercent(d.percent) : null,
      ].filter(Boolean);
      return h(
        'li',
        { 'data-event-type': e.type, class: `ev ev-${e.type.replace(/[^a-z-]/g, '-')}` },
        h('time', { datetime: e.at, title: e.at }, formatTimestamp(e.at)),
        h('span', { class: 'ev-type' }, e.type.replace(/^job:/, '')),
        attempt > 0 ? h('span', { class: 'attempt', 'data-field': 'attempt' }, `attempt ${attempt}`) : null,
        transition ? h('span', { class: 'transition' }, transition) : null,
        detail.length ? h('span', { class: 'meta' }, detail.join(' · ')) : null,
        err?.code
          ? h('span', { class: 'ev-error' }, h('code', null, err.code), err.message ? ` ${err.message}` : '')
          : null,
      );
    }),
  );
}
