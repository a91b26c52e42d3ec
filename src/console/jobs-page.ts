// The jobs page: counts by status, the filtered list (live from GET /v1/events: rows update, new jobs
// appear at the top), bulk retry per pipeline, the queue in claim order, the pools and their workers,
// and the upload panel. Routes a server may not have yet (counts, queue, pipeline/q filters, bulk retry)
// fall back to what every server answers.

import { ApiError, describeError, get, getOptional, post, query } from './api.ts';
import type { Stop } from './app.ts';
import { h, replace, section, setText, statusBadge, tableWrap, updateStatusBadge } from './dom.ts';
import { formatPercent, formatTimestamp } from './format.ts';
import { openStream, throttle } from './live.ts';
import { type JobView, type PoolView, STATUSES, type Status, templateNameOf } from './types.ts';
import { renderUpload } from './upload.ts';

const LIST_LIMIT = 100;

interface Filters {
  status: string;
  pipeline: string;
  q: string;
}

/** The filters a job must pass to be listed (applied here too: live rows, and servers without q). */
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
  const retryBar = h('div', { class: 'retry-bar' });
  const retryResult = h('p', { class: 'note', role: 'status' });
  const liveState = h('span', { class: 'live-state', role: 'status' }, 'Connecting…');

  const queueBody = h('div', { class: 'queue-body' }, h('p', { class: 'note' }, 'Loading…'));
  const poolsBody = h('div', { class: 'pools-body' }, h('p', { class: 'note' }, 'Loading…'));

  const upload = renderUpload({ onJobs: (jobs) => jobs.forEach(upsert) });
  stops.push(upload.stop);

  const main = h(
    'main',
    { id: 'jobs-page', tabindex: '-1' },
    h('div', { class: 'page-head' }, h('h1', null, 'Jobs'), liveState),
    counts,
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
  const jobs = new Map<string, JobView>();

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

  /** A job from a list, an upload or an event: its row updated, or a new row on top if it is listed. */
  function upsert(job: JobView): void {
    const known = jobs.get(job.id);
    jobs.set(job.id, { ...known, ...job });
    const tr = rows.get(job.id);
    if (tr) {
      update(tr, job);
      return;
    }
    if (!matches(job, filters)) return;
    const fresh = row(job);
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
    setText(listNote, 'Loading…');
    let list: JobView[];
    try {
      const params = { status: filters.status, pipeline: filters.pipeline, q: filters.q, limit: LIST_LIMIT };
      list = await get<{ jobs: JobView[] }>(`/v1/jobs${query(params)}`)
        .catch((err) => {
          // A server without the pipeline and q filters refuses them (VALIDATION_FAILED): filter here.
          if (err instanceof ApiError && err.status === 400 && (filters.pipeline || filters.q)) {
            return get<{ jobs: JobView[] }>(`/v1/jobs${query({ status: filters.status, limit: 1000 })}`);
          }
          throw err;
        })
        .then((r) => r.jobs);
    } catch (err) {
      if (generation === listGeneration) setText(listNote, `Could not load jobs: ${describeError(err)}`);
      return;
    }
    if (generation !== listGeneration) return;
    rows.clear();
    tbody.replaceChildren();
    const shown = list.filter((j) => matches(j, filters)).slice(0, LIST_LIMIT);
    for (const job of shown) {
      jobs.set(job.id, job);
      addPipeline(job.pipeline);
      const tr = row(job);
      rows.set(job.id, tr);
      tbody.append(tr);
    }
    setText(
      listNote,
      shown.length === 0
        ? filters.status || filters.pipeline || filters.q
          ? 'No job matches these filters.'
          : 'No jobs yet. Upload a video, or drop one into the source bucket.'
        : shown.length === LIST_LIMIT
          ? `Showing the newest ${LIST_LIMIT} jobs.`
          : '',
    );
  }

  async function loadCounts(): Promise<void> {
    const answer =
      (await getOptional<{ counts: Record<Status, number>; pipelines?: string[] }>('/v1/jobs/counts').catch(
        () => null,
      )) ??
      (await get<{ jobs?: Record<Status, number> }>('/v1/health')
        .then((h) => (h.jobs ? { counts: h.jobs, pipelines: [] } : null))
        .catch(() => null));
    if (!answer) return;
    for (const s of STATUSES) setText(countEls.get(s), String(answer.counts[s] ?? 0));
    for (const p of answer.pipelines ?? []) addPipeline(p);
    await loadRetryButtons(answer.counts.ERROR ?? 0);
  }

  async function loadRetryButtons(errorCount: number): Promise<void> {
    if (errorCount === 0) {
      retryBar.replaceChildren();
      return;
    }
    const errored = await get<{ jobs: JobView[] }>('/v1/jobs?status=ERROR&limit=1000')
      .then((r) => r.jobs)
      .catch(() => []);
    const byPipeline = new Map<string, number>();
    for (const j of errored)
      byPipeline.set(j.pipeline ?? 'default', (byPipeline.get(j.pipeline ?? 'default') ?? 0) + 1);
    replace(
      retryBar,
      [...byPipeline.entries()]
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

  async function retryAll(pipeline: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    setText(retryResult, `Retrying the ERROR jobs of ${pipeline}…`);
    try {
      let retried: JobView[] = [];
      let failed: { id: string; code: string; message: string }[] = [];
      try {
        ({ retried, failed } = await post<{ retried: JobView[]; failed: typeof failed }>('/v1/jobs/retry', {
          pipeline,
        }));
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        // A server without bulk retry: one job at a time.
        const errored = (await get<{ jobs: JobView[] }>('/v1/jobs?status=ERROR&limit=1000')).jobs.filter(
          (j) => (j.pipeline ?? 'default') === pipeline,
        );
        for (const j of errored) {
          try {
            retried.push(await post<JobView>(`/v1/jobs/${encodeURIComponent(j.id)}/retry`));
          } catch (e) {
            failed.push({
              id: j.id,
              code: e instanceof ApiError ? e.code : 'ERROR',
              message: describeError(e),
            });
          }
        }
      }
      retried.forEach(upsert);
      setText(
        retryResult,
        `Retried ${retried.length} job${retried.length === 1 ? '' : 's'} of ${pipeline}` +
          (failed.length
            ? `; ${failed.length} could not be retried (${failed[0]?.code}: ${failed[0]?.message})`
            : '.'),
      );
    } catch (err) {
      setText(retryResult, `Retry failed: ${describeError(err)}`);
    } finally {
      button.disabled = false;
      refreshSummary();
    }
  }

  async function loadQueue(): Promise<void> {
    const answer = await getOptional<{ jobs: JobView[]; pools: PoolView[] }>('/v1/queue').catch(() => null);
    let queued: JobView[];
    let pools: PoolView[];
    if (answer) {
      queued = answer.jobs;
      pools = answer.pools;
    } else {
      // Older server: SUBMITTED jobs in claim order (priority, then oldest), and the pools' demand.
      queued = (
        await get<{ jobs: JobView[] }>('/v1/jobs?status=SUBMITTED&limit=1000').catch(() => ({ jobs: [] }))
      ).jobs;
      queued.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.createdAt.localeCompare(b.createdAt));
      queued = queued.map((j, i) => ({ ...j, position: i + 1 }));
      pools = (await get<{ pools: PoolView[] }>('/v1/pools').catch(() => ({ pools: [] }))).pools;
    }
    renderQueue(queued);
    renderPools(pools);
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
      onEvent: ({ event, job }) => {
        upsert(job);
        if (event.fromStatus !== event.toStatus) refreshSummary();
      },
      onProgress: (m) => {
        const tr = rows.get(m.jobId);
        if (tr) update(tr, { status: m.status, phase: m.phase, progress: m.progress });
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
