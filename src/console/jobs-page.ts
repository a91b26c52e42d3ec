// The jobs page: counts by status, the filtered list (live from GET /v1/events: rows update, new jobs
// appear at the top, rows that stop matching the filters go), bulk retry per pipeline, the queue in claim
// order, the pools and their workers, and the upload panel.

import { describeError, get, post, query } from './api.ts';
import type { Stop } from './app.ts';
import { h, replace, section, setText, statusBadge, tableWrap, updateStatusBadge } from './dom.ts';
import { formatPercent, formatTimestamp } from './format.ts';
import { type JobEventMessage, openStream, throttle } from './live.ts';
import { type JobView, type PoolView, STATUSES, type Status, templateNameOf } from './types.ts';
import { renderUpload } from './upload.ts';

const LIST_LIMIT = 100;

interface Filters {
  status: string;
  pipeline: string;
  q: string;
}

/** The filters a job must pass to be listed (applied here too, to the rows events bring or change). */
export function matches(job: JobView, f: Filters): boolean {
  if (f.status && job.status !== f.status) return false;
  if (f.pipeline && job.pipeline !== f.pipeline) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    const texts = [job.id, job.input.key, ...Object.values(job.userMetadata ?? {})];
    if (!texts.some((t) => t.toLowerCase().includes(q))) return false;
  }
  return true;
}

export function renderJobsPage(view: HTMLElement, setTitle: (t: string) => void): Stop {
  setTitle('Jobs');
  const stops: Stop[] = [];
  const filters: Filters = readFilters();

  // Counts: each a button filtering the list by its status.
  const countEls = new Map<Status, HTMLElement>();
  const countButtons = new Map<Status, HTMLButtonElement>();
  const counts = h(
    'div',
    { class: 'counts', role: 'group', 'aria-label': 'Jobs by status' },
    STATUSES.map((s) => {
      const n = h('span', { class: 'count-n', 'data-count': s }, '–');
      countEls.set(s, n);
      const b = h(
        'button',
        {
          type: 'button',
          class: `count status-${s.toLowerCase()}`,
          'aria-pressed': String(filters.status === s),
          onclick: () => {
            statusSelect.value = filters.status === s ? '' : s;
            applyFilters();
          },
        },
        h('span', { class: 'count-label' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), s),
        n,
      );
      countButtons.set(s, b);
      return b;
    }),
  );

  const statusSelect = h(
    'select',
    { name: 'status', id: 'filter-status' },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((s) => h('option', { value: s }, s)),
  );
  statusSelect.value = filters.status;
  const pipelineSelect = h(
    'select',
    { name: 'pipeline', id: 'filter-pipeline' },
    h('option', { value: '' }, 'All pipelines'),
  );
  const search = h('input', {
    type: 'search',
    name: 'q',
    id: 'filter-q',
    placeholder: 'Job id, input key or metadata',
    autocomplete: 'off',
    value: filters.q,
  });
  let searchTimer: ReturnType<typeof setTimeout> | null = null;
  statusSelect.addEventListener('change', () => applyFilters());
  pipelineSelect.addEventListener('change', () => applyFilters());
  search.addEventListener('input', () => {
    if (searchTimer) clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilters, 250);
  });

  const filterBar = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter jobs', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Status'), statusSelect),
    h('div', { class: 'field' }, h('label', { for: 'filter-pipeline' }, 'Pipeline'), pipelineSelect),
    h('div', { class: 'field grow' }, h('label', { for: 'filter-q' }, 'Search'), search),
  );

  const tbody = h('tbody');
  const table = h(
    'table',
    { id: 'jobs', class: 'data jobs-table', 'aria-label': 'Jobs' },
    h('caption', { class: 'sr-only' }, 'Jobs'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Input', 'Status', 'Phase', 'Progress', 'Pipeline', 'Template', 'Created'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    tbody,
  );
  const listNote = h('p', { class: 'note', role: 'status' });
  const listAlert = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const retryBar = h('div', { class: 'retry-bar' });
  const retryResult = h('p', { class: 'note', role: 'status' });
  const summaryAlert = h('p', { class: 'error-text', role: 'alert', hidden: true });
  const liveState = h('span', { class: 'live-state', role: 'status' }, 'Connecting…');

  const queueBody = h('div', { class: 'queue-body' }, h('p', { class: 'note' }, 'Loading…'));
  const poolsBody = h('div', { class: 'pools-body' }, h('p', { class: 'note' }, 'Loading…'));

  const upload = renderUpload({
    onJobs: (jobs) => {
      for (const j of jobs) upsert(j);
    },
  });
  stops.push(upload.stop);

  const main = h(
    'main',
    { id: 'jobs-page', tabindex: '-1' },
    h('div', { class: 'page-head' }, h('h1', null, 'Jobs'), liveState),
    counts,
    summaryAlert,
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'col-main' },
        h(
          'section',
          { class: 'panel', 'aria-label': 'Job list' },
          filterBar,
          tableWrap(table),
          listNote,
          listAlert,
          retryBar,
          retryResult,
        ),
      ),
      h(
        'div',
        { class: 'col-side' },
        upload.element,
        section(
          'queue',
          'Queue',
          h('p', { class: 'hint' }, 'Submitted jobs in the order workers claim them.'),
          queueBody,
        ),
        section('pools', 'Pools', poolsBody),
      ),
    ),
  );
  view.append(main);

  const rows = new Map<string, HTMLTableRowElement>();
  // The seq of the newest event each row shows: an older summary (a replay, an event re-applied after a
  // list load) never overwrites a newer one. Rows from a list or an upload have none.
  const rowSeq = new WeakMap<HTMLTableRowElement, number>();
  // While a list loads, the newest event of each job it brings: the snapshot may predate them, so they
  // are applied again to the rebuilt rows (the stream is in seq order: anything newer than the snapshot
  // that is still missing comes after).
  let pending: Map<string, JobEventMessage> | null = null;

  function row(job: JobView): HTMLTableRowElement {
    const progress = h('progress', {
      'data-field': 'progress',
      max: '100',
      value: String(job.progress?.percent ?? 0),
      'aria-label': `Progress of ${job.input.key}`,
    });
    const tr = h(
      'tr',
      { 'data-job-id': job.id },
      h(
        'td',
        { 'data-label': 'Input', class: 'key-cell' },
        h('a', { href: `#/jobs/${encodeURIComponent(job.id)}`, 'data-field': 'key' }, job.input.key),
        h('span', { class: 'job-id' }, job.id),
      ),
      h('td', { 'data-label': 'Status' }, statusBadge(job.status)),
      h('td', { 'data-label': 'Phase' }, h('span', { 'data-field': 'phase' }, job.phase ?? '—')),
      h(
        'td',
        { 'data-label': 'Progress', class: 'progress-cell' },
        progress,
        h('span', { class: 'pct', 'data-field': 'percent' }, formatPercent(job.progress?.percent ?? 0)),
      ),
      h('td', { 'data-label': 'Pipeline' }, h('span', { 'data-field': 'pipeline' }, job.pipeline ?? '—')),
      h('td', { 'data-label': 'Template' }, h('span', { 'data-field': 'template' }, templateNameOf(job))),
      h(
        'td',
        { 'data-label': 'Created' },
        h(
          'time',
          { 'data-field': 'created', datetime: job.createdAt, title: job.createdAt },
          formatTimestamp(job.createdAt),
        ),
      ),
    );
    return tr;
  }

  function update(tr: HTMLTableRowElement, job: Partial<JobView>): void {
    if (job.status) updateStatusBadge(tr.querySelector('[data-field="status"]'), job.status);
    if (job.phase !== undefined) setText(tr.querySelector('[data-field="phase"]'), job.phase ?? '—');
    if (job.progress) {
      const p = tr.querySelector<HTMLProgressElement>('progress[data-field="progress"]');
      const percent = job.progress.percent ?? 0;
      if (p && p.value !== percent) p.value = percent;
      setText(tr.querySelector('[data-field="percent"]'), formatPercent(percent));
    }
  }

  /**
   * A job from a list, an upload or an event (with its seq): its row updated, or removed when it no
   * longer passes the filters, or a new row on top if it does.
   */
  function upsert(job: JobView, seq?: number): void {
    const tr = rows.get(job.id);
    if (tr) {
      const shown = rowSeq.get(tr);
      if (seq !== undefined && shown !== undefined && shown >= seq) return;
      if (!matches(job, filters)) {
        removeRow(job.id, tr);
        return;
      }
      update(tr, job);
      if (seq !== undefined) rowSeq.set(tr, seq);
      return;
    }
    if (!matches(job, filters)) return;
    const fresh = row(job);
    if (seq !== undefined) rowSeq.set(fresh, seq);
    rows.set(job.id, fresh);
    tbody.prepend(fresh);
    // The list stays the newest LIST_LIMIT: the oldest row goes as a new one comes.
    const last = tbody.lastElementChild as HTMLTableRowElement | null;
    if (rows.size > LIST_LIMIT && last?.dataset.jobId) {
      rows.delete(last.dataset.jobId);
      last.remove();
    }
    setText(listNote, '');
    addPipeline(job.pipeline);
  }

  function removeRow(id: string, tr: HTMLTableRowElement): void {
    rows.delete(id);
    tr.remove();
    if (rows.size === 0) setText(listNote, emptyNote());
  }

  function emptyNote(): string {
    return filters.status || filters.pipeline || filters.q
      ? 'No job matches these filters.'
      : 'No jobs yet. Upload a video, or drop one into the source bucket.';
  }

  function applyEvent(message: JobEventMessage): void {
    const seq = message.seq ?? undefined;
    if (pending) {
      const held = pending.get(message.job.id)?.seq;
      if (held == null || seq === undefined || held < seq) pending.set(message.job.id, message);
    }
    upsert(message.job, seq);
  }

  const knownPipelines = new Set<string>();
  function addPipeline(name: string | undefined): void {
    if (!name || knownPipelines.has(name)) return;
    knownPipelines.add(name);
    const options = [...knownPipelines].sort();
    const value = pipelineSelect.value || filters.pipeline;
    replace(
      pipelineSelect,
      h('option', { value: '' }, 'All pipelines'),
      options.map((p) => h('option', { value: p }, p)),
    );
    pipelineSelect.value = options.includes(value) ? value : '';
  }

  let listGeneration = 0;
  async function loadList(): Promise<void> {
    const generation = ++listGeneration;
    pending = new Map();
    setText(listNote, 'Loading…');
    let list: JobView[];
    try {
      const params = { status: filters.status, pipeline: filters.pipeline, q: filters.q, limit: LIST_LIMIT };
      list = (await get<{ jobs: JobView[] }>(`/v1/jobs${query(params)}`)).jobs;
    } catch (err) {
      if (generation !== listGeneration) return;
      pending = null;
      setText(listNote, '');
      showAlert(listAlert, `Could not load jobs: ${describeError(err)}`);
      return;
    }
    if (generation !== listGeneration) return;
    const held = pending;
    pending = null;
    showAlert(listAlert, '');
    rows.clear();
    tbody.replaceChildren();
    for (const job of list.slice(0, LIST_LIMIT)) {
      addPipeline(job.pipeline);
      const tr = row(job);
      rows.set(job.id, tr);
      tbody.append(tr);
    }
    // Events that came while the list loaded: their summaries may be newer than the snapshot.
    for (const message of held.values()) applyEvent(message);
    setText(
      listNote,
      rows.size === 0 ? emptyNote() : rows.size >= LIST_LIMIT ? `Showing the newest ${LIST_LIMIT} jobs.` : '',
    );
  }

  type StatusCounts = Record<Status, number>;
  async function loadCounts(): Promise<void> {
    let answer: { counts: StatusCounts; pipelines: string[]; byPipeline: Record<string, StatusCounts> };
    try {
      answer = await get<typeof answer>('/v1/jobs/counts');
    } catch (err) {
      showAlert(summaryAlert, `Could not load the counts: ${describeError(err)}`);
      return;
    }
    showAlert(summaryAlert, '');
    for (const s of STATUSES) setText(countEls.get(s), String(answer.counts[s] ?? 0));
    for (const p of answer.pipelines ?? []) addPipeline(p);
    renderRetryButtons(answer.byPipeline ?? {});
  }

  /** A "Retry all ERROR jobs of <pipeline>" button for each pipeline with jobs in ERROR. */
  function renderRetryButtons(byPipeline: Record<string, StatusCounts>): void {
    replace(
      retryBar,
      Object.entries(byPipeline)
        .map(([pipeline, counts]) => [pipeline, counts.ERROR ?? 0] as const)
        .filter(([, n]) => n > 0)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([pipeline, n]) =>
          h(
            'button',
            {
              type: 'button',
              class: 'button',
              title: `${n} job${n === 1 ? '' : 's'} in ERROR`,
              onclick: (e) => retryAll(pipeline, e.currentTarget as HTMLButtonElement),
            },
            `Retry all ERROR jobs of ${pipeline}`,
          ),
        ),
    );
  }

  interface RetryAnswer {
    retried: JobView[];
    failed: { id: string; code: string; message: string }[];
    more: boolean;
  }

  /** POST /v1/jobs/retry takes a batch at a time (`more`: it was full), so it is asked until done. */
  async function retryAll(pipeline: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    setText(retryResult, `Retrying the ERROR jobs of ${pipeline}…`);
    let retried = 0;
    // By id: a job that could not be retried is still in ERROR, so a later batch may name it again.
    const failed = new Map<string, RetryAnswer['failed'][number]>();
    try {
      for (;;) {
        const answer = await post<RetryAnswer>('/v1/jobs/retry', { pipeline });
        for (const j of answer.retried) upsert(j);
        retried += answer.retried.length;
        for (const f of answer.failed) failed.set(f.id, f);
        if (!(answer.more && answer.retried.length > 0)) break;
      }
      const first = failed.values().next().value;
      setText(
        retryResult,
        `Retried ${retried} job${retried === 1 ? '' : 's'} of ${pipeline}` +
          (first ? `; ${failed.size} could not be retried (${first.code}: ${first.message})` : '.'),
      );
    } catch (err) {
      setText(
        retryResult,
        `Retry failed${retried ? ` after ${retried} job${retried === 1 ? '' : 's'}` : ''}: ${describeError(err)}`,
      );
    } finally {
      button.disabled = false;
      refreshSummary();
    }
  }

  async function loadQueue(): Promise<void> {
    let answer: { jobs: JobView[]; pools: PoolView[] };
    try {
      answer = await get<typeof answer>('/v1/queue');
    } catch (err) {
      const alert = () => h('p', { class: 'error-text', role: 'alert' }, describeError(err));
      replace(queueBody, alert());
      replace(poolsBody, alert());
      return;
    }
    renderQueue(answer.jobs);
    renderPools(answer.pools);
  }

  function renderQueue(queued: JobView[]): void {
    if (queued.length === 0) {
      replace(queueBody, h('p', { class: 'note' }, 'The queue is empty.'));
      return;
    }
    replace(
      queueBody,
      h(
        'ol',
        { class: 'queue-list', 'aria-label': 'Queued jobs in claim order' },
        queued
          .slice(0, 50)
          .map((j) =>
            h(
              'li',
              { 'data-job-id': j.id },
              h(
                'span',
                { class: 'pos', 'aria-label': `Position ${j.position ?? ''}` },
                String(j.position ?? ''),
              ),
              h('a', { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.input.key),
              h(
                'span',
                { class: 'meta' },
                `${j.pipeline ?? '—'}${j.priority ? ` · priority ${j.priority}` : ''}`,
              ),
            ),
          ),
      ),
      queued.length > 50 ? h('p', { class: 'note' }, `and ${queued.length - 50} more`) : null,
    );
  }

  function renderPools(pools: PoolView[]): void {
    if (pools.length === 0) {
      replace(poolsBody, h('p', { class: 'note' }, 'No pools.'));
      return;
    }
    replace(
      poolsBody,
      pools.map((p) =>
        h(
          'div',
          { class: 'pool', 'data-pool': p.pool },
          h('h3', null, p.pool),
          h(
            'dl',
            { class: 'stats' },
            stat('Queued', p.queued),
            stat('Running', p.running),
            stat('Waiting for capacity', p.waitingForCapacity),
          ),
          p.runningJobs?.length
            ? h(
                'ul',
                { class: 'running', 'aria-label': `Running in ${p.pool}` },
                p.runningJobs.map((r) =>
                  h(
                    'li',
                    null,
                    h('a', { href: `#/jobs/${encodeURIComponent(r.id)}` }, r.key),
                    h('span', { class: 'meta' }, `${r.phase ?? '—'} · ${formatPercent(r.percent)}`),
                  ),
                ),
              )
            : null,
          p.workers === undefined
            ? null
            : p.workers.length === 0
              ? h('p', { class: 'note' }, 'No remote workers (local workers only).')
              : h(
                  'ul',
                  { class: 'workers', 'aria-label': `Workers of ${p.pool}` },
                  p.workers.map((w) =>
                    h(
                      'li',
                      null,
                      h('span', null, w.label ?? w.id),
                      h(
                        'span',
                        { class: w.revokedAt ? 'meta revoked' : 'meta' },
                        w.revokedAt
                          ? 'revoked'
                          : w.lastUsedAt
                            ? `last seen ${formatTimestamp(w.lastUsedAt)}`
                            : 'never connected',
                      ),
                    ),
                  ),
                ),
        ),
      ),
    );
  }

  const refreshSummary = throttle(() => {
    void loadCounts();
    void loadQueue();
  }, 1000);
  stops.push(refreshSummary.cancel);

  function applyFilters(): void {
    filters.status = statusSelect.value;
    filters.pipeline = pipelineSelect.value;
    filters.q = search.value.trim();
    for (const [s, b] of countButtons) b.setAttribute('aria-pressed', String(filters.status === s));
    writeFilters(filters);
    void loadList();
  }

  stops.push(
    openStream('/v1/events', {
      onState: (state) => {
        setText(
          liveState,
          state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Offline',
        );
        liveState.dataset.state = state;
      },
      onEvent: (message) => {
        applyEvent(message);
        if (message.event.fromStatus !== message.event.toStatus) refreshSummary();
      },
      onProgress: (m) => {
        const tr = rows.get(m.jobId);
        if (!tr) return;
        if (filters.status && m.status !== filters.status) removeRow(m.jobId, tr);
        else update(tr, { status: m.status, phase: m.phase, progress: m.progress });
      },
      // Back after the stream had closed: what happened in the gap comes from the API instead.
      onResync: () => {
        void loadList();
        refreshSummary();
      },
    }),
  );

  void loadList();
  void loadCounts();
  void loadQueue();
  return () => {
    for (const s of stops) s();
    if (searchTimer) clearTimeout(searchTimer);
  };
}

/** An alert's text, hidden while there is none. */
function showAlert(el: HTMLElement, text: string): void {
  setText(el, text);
  el.hidden = !text;
}

function stat(label: string, value: number): HTMLElement {
  return h('div', null, h('dt', null, label), h('dd', null, String(value)));
}

/** Filters live in the query part of the hash (#/?status=ERROR), so a filtered view can be linked. */
function readFilters(): Filters {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = (q.get('status') ?? '').toUpperCase();
  return {
    status: (STATUSES as readonly string[]).includes(status) ? status : '',
    pipeline: q.get('pipeline') ?? '',
    q: q.get('q') ?? '',
  };
}

function writeFilters(f: Filters): void {
  const hash = `#/${query({ status: f.status, pipeline: f.pipeline, q: f.q })}`;
  if (location.hash !== hash && !(hash === '#/' && location.hash === ''))
    history.replaceState(null, '', hash);
}
