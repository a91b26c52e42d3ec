// The console's entry point: the frame (top bar, navigation, the "session ended" banner) and the hash
// router. Each page renders into the view and returns how to stop it (close its event streams), so
// leaving a page leaves nothing running.
import './console.css';
import { ApiError, api, get, onUnauthorized } from './api.ts';
import { h, replace } from './dom.ts';
import { renderJobPage } from './job-page.ts';
import { renderJobsPage } from './jobs-page.ts';
import { renderPipelinesPage } from './pipelines-page.ts';
import { renderTemplatePage, renderTemplatesPage } from './templates-page.ts';

export type Stop = () => void;
export type Page = (view: HTMLElement, setTitle: (title: string) => void) => Stop;

interface Route {
  nav: 'jobs' | 'templates' | 'pipelines';
  page: Page;
}

function route(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map(decodeSegment);
  if (parts[0] === 'jobs' && parts[1]) {
    const id = parts[1];
    return { nav: 'jobs', page: (view, setTitle) => renderJobPage(view, id, setTitle) };
  }
  if (parts[0] === 'templates' && parts[1]) {
    const name = parts[1];
    return { nav: 'templates', page: (view, setTitle) => renderTemplatePage(view, name, setTitle) };
  }
  if (parts[0] === 'templates') return { nav: 'templates', page: renderTemplatesPage };
  if (parts[0] === 'pipelines') return { nav: 'pipelines', page: renderPipelinesPage };
  return { nav: 'jobs', page: renderJobsPage };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function start(): Promise<void> {
  const navLinks = {
    jobs: h('a', { href: '#/' }, 'Jobs'),
    templates: h('a', { href: '#/templates' }, 'Templates'),
    pipelines: h('a', { href: '#/pipelines' }, 'Pipelines'),
  };
  const account = h('div', { class: 'account' });
  const view = h('div', { id: 'view' });
  const banner = h('div', { id: 'banner', class: 'banner', role: 'alert', hidden: true });
  const skip = h(
    'button',
    { class: 'skip-link', type: 'button', onclick: () => view.querySelector<HTMLElement>('main')?.focus() },
    'Skip to content',
  );
  document.body.append(
    skip,
    h(
      'header',
      { class: 'topbar' },
      h(
        'a',
        { class: 'brand', href: '#/' },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
        h('span', { class: 'brand-name' }, 'Sluice'),
      ),
      h('nav', { 'aria-label': 'Main' }, navLinks.jobs, navLinks.templates, navLinks.pipelines),
      account,
    ),
    banner,
    view,
  );

  onUnauthorized(() => {
    replace(
      banner,
      'Your session has ended. ',
      h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Sign in again'),
    );
    banner.hidden = false;
  });

  const session = await get<{ required: boolean; authenticated: boolean }>('/v1/session').catch(() => null);
  if (session?.required && session.authenticated) {
    account.append(
      h(
        'button',
        {
          type: 'button',
          class: 'button subtle',
          onclick: async () => {
            await api('DELETE', '/v1/session').catch((err) => {
              if (!(err instanceof ApiError)) throw err;
            });
            location.reload();
          },
        },
        'Sign out',
      ),
    );
  }

  let stop: Stop | null = null;
  const show = () => {
    stop?.();
    const r = route(location.hash);
    for (const [name, link] of Object.entries(navLinks)) {
      if (name === r.nav) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    view.replaceChildren();
    window.scrollTo(0, 0);
    stop = r.page(view, (title) => {
      document.title = `${title} · Sluice`;
    });
  };
  window.addEventListener('hashchange', show);
  show();
}

void start();
