// Templates, read-only: the list, and one template as the server applies it (every default filled
// in), with a box to validate an edited copy (POST /v1/templates/validate): each error is shown
// against the field it names.

import { ApiError, describeError, get, post } from './api.ts';
import type { Stop } from './app.ts';
import { type Child, h, replace, section, tableWrap } from './dom.ts';

interface TemplateSummary {
  name: string;
  source?: string;
  description?: string;
}

export function renderTemplatesPage(view: HTMLElement, setTitle: (t: string) => void): Stop {
  setTitle('Templates');
  const body = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  view.append(
    h(
      'main',
      { id: 'templates', tabindex: '-1' },
      h('div', { class: 'page-head' }, h('h1', null, 'Templates')),
      h('section', { class: 'panel', 'aria-label': 'Templates' }, body),
    ),
  );
  get<{ templates: TemplateSummary[] }>('/v1/templates')
    .then(({ templates }) =>
      replace(
        body,
        tableWrap(
          h(
            'table',
            { class: 'data', 'aria-label': 'Templates' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['Name', 'Source', 'Description'].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              null,
              templates.map((t) =>
                h(
                  'tr',
                  { 'data-template': t.name },
                  h(
                    'td',
                    { 'data-label': 'Name' },
                    h('a', { href: `#/templates/${encodeURIComponent(t.name)}` }, t.name),
                  ),
                  h('td', { 'data-label': 'Source' }, t.source ?? '—'),
                  h('td', { 'data-label': 'Description' }, t.description ?? ''),
                ),
              ),
            ),
          ),
        ),
      ),
    )
    .catch((err) => replace(body, h('p', { class: 'error-text', role: 'alert' }, describeError(err))));
  return () => undefined;
}

export function renderTemplatePage(view: HTMLElement, name: string, setTitle: (t: string) => void): Stop {
  setTitle(`Template ${name}`);
  const body = h('div', null, h('p', { class: 'note' }, 'Loading…'));
  const editor = h('textarea', {
    id: 'template-editor',
    name: 'template',
    rows: '16',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const result = h('div', { id: 'validation', 'aria-live': 'polite' });
  const validate = h(
    'button',
    { type: 'button', class: 'button primary', onclick: () => void run() },
    'Validate',
  );
  view.append(
    h(
      'main',
      { id: 'template', 'data-template': name, tabindex: '-1' },
      h(
        'nav',
        { class: 'crumbs', 'aria-label': 'Breadcrumb' },
        h('a', { href: '#/templates' }, 'Templates'),
        h('span', { 'aria-hidden': 'true' }, ' / '),
        name,
      ),
      h('div', { class: 'page-head' }, h('h1', null, name)),
      h(
        'div',
        { class: 'columns' },
        h('div', { class: 'col-main' }, section('template-settings', 'Settings (defaults filled in)', body)),
        h(
          'div',
          { class: 'col-side' },
          section(
            'template-validate',
            'Validate',
            h('label', { for: 'template-editor' }, 'Template document (JSON)'),
            editor,
            h('div', { class: 'actions' }, validate),
            result,
          ),
        ),
      ),
    ),
  );

  get<Record<string, unknown>>(`/v1/templates/${encodeURIComponent(name)}`)
    .then((t) => {
      replace(body, tree(t));
      editor.value = JSON.stringify(t, null, 2);
    })
    .catch((err) => replace(body, h('p', { class: 'error-text', role: 'alert' }, describeError(err))));

  async function run(): Promise<void> {
    let doc: unknown;
    try {
      doc = JSON.parse(editor.value);
    } catch (err) {
      showErrors([{ field: '', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` }]);
      return;
    }
    validate.disabled = true;
    replace(result, h('p', { class: 'note' }, 'Validating…'));
    try {
      const answer = await post<{ valid: boolean; template: Record<string, unknown> }>(
        '/v1/templates/validate',
        doc,
      );
      replace(
        result,
        h('p', { class: 'ok-text', role: 'status' }, 'Valid. With every default filled in:'),
        h('pre', { class: 'json' }, JSON.stringify(answer.template, null, 2)),
      );
    } catch (err) {
      if (err instanceof ApiError && err.errors.length > 0) showErrors(err.errors);
      else if (err instanceof ApiError) showErrors([{ field: '', message: `${err.code}: ${err.message}` }]);
      else replace(result, h('p', { class: 'error-text', role: 'alert' }, describeError(err)));
    } finally {
      validate.disabled = false;
    }
  }

  function showErrors(errors: { field: string; message: string }[]): void {
    replace(
      result,
      h(
        'p',
        { class: 'error-text', role: 'alert' },
        `Not valid: ${errors.length} error${errors.length === 1 ? '' : 's'}.`,
      ),
      h(
        'ul',
        { class: 'field-errors' },
        errors.map((e) =>
          h(
            'li',
            { 'data-error-field': e.field },
            h('code', { class: 'field-name' }, e.field === '' ? '(document)' : e.field),
            h('span', { class: 'field-message' }, e.message),
          ),
        ),
      ),
    );
  }
  return () => undefined;
}

/** Any JSON value as nested definition lists (objects), numbered lists (arrays) and text. */
export function tree(value: unknown): Child {
  if (value === null || value === undefined) return h('span', { class: 'v-null' }, 'null');
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { class: 'v-null' }, '[]');
    if (value.every((v) => typeof v !== 'object' || v === null))
      return h('span', { class: 'v' }, value.map(String).join(', '));
    return h(
      'ol',
      { class: 'tree-list', start: '0' },
      value.map((v) => h('li', null, tree(v))),
    );
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return h('span', { class: 'v-null' }, '{}');
    return h(
      'dl',
      { class: 'tree' },
      entries.map(([k, v]) => [h('dt', null, k), h('dd', null, tree(v))]),
    );
  }
  return h('span', { class: `v v-${typeof value}` }, String(value));
}
