// Pipelines, read-only: what the server applies to each (GET /v1/pipelines, every default filled in).

import { describeError, get } from './api.ts';
import type { Stop } from './app.ts';
import { h, replace, tableWrap } from './dom.ts';

interface PipelineView {
  name: string;
  bucket: string;
  prefix: string;
  suffixes: string[];
  template: string;
  destinationBucket: string;
  destinationPrefix: string;
  settingsPrefix: string;
  priority: number;
  retry: { maxAttempts: number; backoff: { initialSeconds: number; maxSeconds: number; multiplier: number } };
}

export function renderPipelinesPage(view: HTMLElement, setTitle: (t: string) => void): Stop {
  setTitle('Pipelines');
  const body = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  view.append(
    h(
      'main',
      { id: 'pipelines', tabindex: '-1' },
      h('div', { class: 'page-head' }, h('h1', null, 'Pipelines')),
      h('section', { class: 'panel', 'aria-label': 'Pipelines' }, body),
    ),
  );
  const cols = [
    'Name',
    'Watches',
    'Suffixes',
    'Template',
    'Destination',
    'Settings folder',
    'Priority',
    'Retries',
  ];
  get<{ pipelines: PipelineView[] }>('/v1/pipelines')
    .then((answer) => {
      replace(
        body,
        h('p', { class: 'hint' }, 'What the server applies to each pipeline, every default filled in.'),
        tableWrap(
          h(
            'table',
            { class: 'data', id: 'pipelines-table', 'aria-label': 'Pipelines' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                cols.map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              null,
              answer.pipelines.map((p) => {
                const b = p.retry?.backoff;
                const cells = [
                  h('a', { href: `#/?pipeline=${encodeURIComponent(p.name)}` }, p.name),
                  h('code', null, `${p.bucket}/${p.prefix}`),
                  p.suffixes?.length ? p.suffixes.join(' ') : 'any',
                  h('a', { href: `#/templates/${encodeURIComponent(p.template)}` }, p.template),
                  h('code', null, `${p.destinationBucket}/${p.destinationPrefix}`),
                  h('code', null, p.settingsPrefix || '—'),
                  String(p.priority),
                  p.retry
                    ? `${p.retry.maxAttempts} attempts; backoff ${b?.initialSeconds} s ×${b?.multiplier} up to ${b?.maxSeconds} s`
                    : '—',
                ];
                return h(
                  'tr',
                  { 'data-pipeline': p.name },
                  cells.map((c, i) => h('td', { 'data-label': cols[i] ?? '' }, c)),
                );
              }),
            ),
          ),
        ),
      );
    })
    .catch((err) => replace(body, h('p', { class: 'error-text', role: 'alert' }, describeError(err))));
  return () => undefined;
}
