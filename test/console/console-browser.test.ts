// The web console in Debian's Chromium (playwright-core, no browser download) against a real
// `sluice serve` listening beyond loopback, so every page needs the API token: the login form, a drag and
// drop upload with its template picked, the job's progress bar moving, COMPLETE, the outputs played to
// the end in the console's own player (served by Sluice with range requests), a cancel, a retry, and a
// hostile file name that must show as text. Screenshots of the jobs list and a job page at 1280 and 360 px
// (and of a failed job at 1280) go to .tmp/console-screenshots/ (or SLUICE_SCREENSHOT_DIR). `npm test`
// runs this file once, with the other slow suites.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { JobView } from '../../src/api/job-view.ts';
import { clip, waitFor } from '../helpers.ts';
import { startRealServer, TINY_TEMPLATE } from '../real-server.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');
const SHOTS = process.env.SLUICE_SCREENSHOT_DIR ?? path.join(ROOT, '.tmp', 'console-screenshots');
const HOSTILE = '<img src=x onerror=alert(1)>.mp4';

/**
 * Slow on purpose (preset slower, two rungs, sprites): a 6 s clip takes a few seconds to encode, so the
 * progress bar has values to show between 0 and 100.
 */
const WATCHED_TEMPLATE = {
  ladder: [
    { name: '360p', height: 360, videoBitrateKbps: 600 },
    { name: '180p', height: 180, videoBitrateKbps: 250 },
  ],
  video: { preset: 'slower' },
  packaging: { segmentSeconds: 1 },
  sprites: { enabled: true, intervalSeconds: 1 },
};
/** For the job that is canceled while it runs: long enough never to finish first. */
const SLOW_TEMPLATE = { ...TINY_TEMPLATE, video: { preset: 'slower' } };

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Every page records CSP violations and dialogs (an alert from a job's text would be one). */
async function newContext(browser: Browser, width = 1280): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return context;
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}

/** Drops a file on an element as a user dragging it from their desktop would (a DataTransfer with it). */
async function dropFile(page: Page, selector: string, name: string, bytes: Buffer): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ b64, name }) => {
      const bin = atob(b64);
      const data = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type: 'video/mp4' }));
      return dt;
    },
    { b64: bytes.toString('base64'), name },
  );
  const zone = page.locator(selector);
  await zone.dispatchEvent('dragenter', { dataTransfer });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

/** Every value the upload bar and each job row's bar take, as the page shows them. */
const RECORD_PROGRESS = `(() => {
  window.__upload = [];
  window.__rows = {};
  const note = (el) => {
    const v = Number(el.value);
    if (el.id === 'upload-progress') {
      if (window.__upload.at(-1) !== v) window.__upload.push(v);
      return;
    }
    const id = el.closest('tr')?.getAttribute('data-job-id');
    if (!id) return;
    const seen = window.__rows[id] ?? [];
    window.__rows[id] = seen;
    if (seen.at(-1) !== v) seen.push(v);
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.target instanceof HTMLProgressElement) note(c.target);
      for (const n of c.addedNodes) {
        if (n instanceof Element) for (const p of n.querySelectorAll('progress')) note(p);
      }
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] });
})()`;

/** Records the video element's time updates from now; `window.__played()` reads them. */
const WATCH_PLAYBACK = `(() => {
  const v = document.getElementById('video');
  const times = [];
  const onTime = () => times.push(Math.round(v.currentTime * 1000) / 1000);
  v.addEventListener('timeupdate', onTime);
  window.__played = () => {
    v.removeEventListener('timeupdate', onTime);
    return { times, d: v.duration, w: v.videoWidth, src: v.currentSrc, lib: { hls: typeof window.Hls === 'function', dash: typeof window.dashjs === 'object' } };
  };
})()`;

function row(page: Page, id: string) {
  return page.locator(`#jobs tr[data-job-id="${id}"]`);
}

test('web console in Chromium against a real sluice serve beyond loopback (login, upload, progress, play, cancel, retry, hostile names)', async (t) => {
  // The console's bundle is built by `npm ci` (prepare); built again here so the test runs this source.
  await run(process.execPath, [path.join(ROOT, 'scripts', 'build-console.mjs')], { cwd: ROOT });
  await fs.mkdir(SHOTS, { recursive: true });
  const server = await startRealServer(t, {
    host: '0.0.0.0',
    templates: { tiny: TINY_TEMPLATE, watched: WATCHED_TEMPLATE, slow: SLOW_TEMPLATE },
  });
  assert.ok(server.token, 'a server beyond loopback has an API token');
  const token = server.token;
  const base = server.url;
  const browser = await launch();
  t.after(() => browser.close());
  const dialogs: string[] = [];

  await t.test('without the token only the login form loads; a wrong token is refused', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));
    const first = await page.goto(`${base}/console/`);
    assert.ok(first);
    const csp = first.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, `the console forbids inline scripts: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await page.locator('form#login input[name="token"]').waitFor();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.locator('#jobs').count(), 0, 'no job list before signing in');
    const data = requested.filter((p) => p.startsWith('/v1/') && p !== '/v1/session');
    assert.deepEqual(data, [], `nothing but the login form loads: ${requested.join(', ')}`);
    // The app's own code is not served either, nor the API, to a browser without the session.
    const probe = await page.evaluate(async () => {
      const jobs = await fetch('/v1/jobs');
      return { jobs: jobs.status };
    });
    assert.equal(probe.jobs, 401);

    await page.locator('input[name="token"]').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.locator('#jobs').count(), 0);
    assert.deepEqual(await cspViolations(page), []);
    await context.close();
  });

  const context = await newContext(browser);
  const page = await context.newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });

  await t.test(
    'the token signs in; it is kept in an HttpOnly session cookie, never in URLs or storage',
    async () => {
      await page.goto(`${base}/console/`);
      await page.locator('input[name="token"]').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#jobs').waitFor();
      const cookies = await context.cookies();
      const session = cookies.find((c) => c.name === 'sluice_session');
      assert.ok(session, `a session cookie: ${JSON.stringify(cookies)}`);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Strict');
      assert.ok(!session.value.includes(token), 'the cookie is not the token');
      assert.ok(!page.url().includes(token));
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
      assert.ok(!stored.includes(token), 'the token is not in web storage');
    },
  );

  await t.test('the jobs page is small: under 300 KB transferred cold, no player loaded', async () => {
    // A browser with the session but an empty cache, as a first visit after signing in.
    const cold = await newContext(browser);
    await cold.addCookies(await context.cookies());
    const tab = await cold.newPage();
    const responses: import('playwright-core').Response[] = [];
    tab.on('response', (r) => responses.push(r));
    await tab.goto(`${base}/console/`);
    await tab.locator('#jobs').waitFor();
    await tab.waitForLoadState('networkidle');
    const sizes: { url: string; bytes: number }[] = [];
    for (const r of responses) {
      // The event stream stays open (its size is only known at its end): counted as its headers.
      const streaming = new URL(r.url()).pathname === '/v1/events';
      const s = streaming ? null : await r.request().sizes();
      sizes.push({ url: r.url(), bytes: (s?.responseBodySize ?? 0) + (s?.responseHeadersSize ?? 400) });
    }
    await cold.close();
    const total = sizes.reduce((n, s) => n + s.bytes, 0);
    t.diagnostic(`first page, cold: ${total} bytes in ${sizes.length} responses`);
    assert.ok(
      sizes.some((s) => /\/console\/assets\/.*\.js/.test(s.url)),
      'the app was fetched',
    );
    assert.ok(total < 300 * 1024, `first page ${total} bytes: ${JSON.stringify(sizes)}`);
    assert.ok(!sizes.some((s) => /hls|dash/i.test(s.url)), 'players load only on a job page');
  });

  const bytes = await fs.readFile(await clip({ width: 640, height: 360, seconds: 6 }));
  let watched: JobView | undefined;
  let failedId: string | undefined;

  await t.test(
    'a dropped file uploads with the template picked; its progress bar moves; COMPLETE',
    async () => {
      await page.locator('#upload-template').selectOption('watched');
      // (A string: tsx's names for functions inside a function given to evaluate do not exist in the page.)
      await page.evaluate(RECORD_PROGRESS);
      await dropFile(page, '#dropzone', 'talk.mp4', bytes);
      watched = await waitFor('the upload made a job', async () => {
        const { jobs } = await server.api.listJobs(undefined, 100);
        return jobs.find((j) => j.input.key === 'talk.mp4');
      });
      assert.equal(watched.template.name, 'watched', 'the picked template');
      const line = row(page, watched.id);
      await line.waitFor({ timeout: 10_000 });
      await line.locator('[data-field="status"]', { hasText: 'COMPLETE' }).waitFor({ timeout: 120_000 });
      const seen = await page.evaluate(
        (id) => (window as unknown as { __rows: Record<string, number[]> }).__rows[id] ?? [],
        watched.id,
      );
      const between = seen.filter((v) => v > 0 && v < 100);
      t.diagnostic(`progress bar of ${watched.id}: ${seen.join(' → ')}`);
      assert.ok(between.length >= 3, `the bar moved through at least three values: ${seen.join(' → ')}`);
      for (let i = 1; i < seen.length; i++)
        assert.ok((seen[i] ?? 0) >= (seen[i - 1] ?? 0), `never back: ${seen}`);
      assert.equal(seen.at(-1), 100);
      const upload = await page.evaluate(() => (window as unknown as { __upload: number[] }).__upload);
      assert.equal(upload.at(-1), 100, `the upload bar reached 100: ${upload}`);
      assert.equal(await line.locator('[data-field="key"]').innerText(), 'talk.mp4');
    },
  );

  await t.test('the job page plays the outputs to the end (HLS, DASH, MP4 over range requests)', async () => {
    assert.ok(watched);
    const ranges: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/files/') && r.url().endsWith('.mp4')) ranges.push(r.status());
    });
    await page
      .locator(
        `#jobs tr[data-job-id="${watched.id}"] [data-field="key"] a, #jobs tr[data-job-id="${watched.id}"] a[data-field="key"]`,
      )
      .first()
      .click();
    await page.locator(`main#job[data-job-id="${watched.id}"]`).waitFor();
    assert.equal(await page.locator('main#job h1').innerText(), 'talk.mp4');
    await page.locator('#job [data-field="status"]', { hasText: 'COMPLETE' }).waitFor();
    for (const id of ['#media', '#plan', '#timeline', '#outputs']) {
      assert.ok((await page.locator(id).innerText()).trim().length > 0, `${id} shows something`);
    }
    assert.match(await page.locator('#plan').innerText(), /360/);
    assert.match(await page.locator('#outputs').innerText(), /hls|HLS/);

    for (const source of ['HLS', 'DASH', 'MP4']) {
      await page.getByRole('button', { name: source, exact: true }).click();
      await page.locator(`#player button[aria-pressed="true"]`, { hasText: source }).waitFor();
      // The new source is loaded from its start, not the last one's end.
      await page.waitForFunction(
        () => {
          const v = document.getElementById('video') as HTMLVideoElement;
          return !v.ended && v.readyState >= 1 && v.currentTime < 0.5;
        },
        null,
        { timeout: 30_000 },
      );
      await page.evaluate(WATCH_PLAYBACK);
      await page.getByRole('button', { name: 'Play' }).click();
      await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).ended, null, {
        timeout: 60_000,
      });
      const played = (await page.evaluate('window.__played()')) as {
        times: number[];
        d: number;
        w: number;
        src: string;
        lib: { hls: boolean; dash: boolean };
      };
      const first = played.times[0] ?? -1;
      const last = played.times.at(-1) ?? -1;
      const summary = `${source}: ${played.times.length} time updates from ${first} to ${last} of ${played.d}, ${played.src.slice(0, 60)}`;
      t.diagnostic(summary);
      assert.ok(
        played.d > 5.5 && first < 1 && last >= played.d - 0.2,
        `played from the start to the end: ${summary}`,
      );
      // timeupdate fires every 250 ms or so while playing: a jump to the end would leave a handful.
      assert.ok(played.times.length >= played.d * 2, `played through, not jumped: ${summary}`);
      assert.ok(played.w > 0, `${source} showed video`);
      if (source === 'MP4') assert.match(played.src, /\/files\/.*\.mp4$/, 'the MP4 itself');
      else assert.match(played.src, /^blob:/, `${source} through MSE (its player library)`);
      if (source === 'HLS') assert.ok(played.lib.hls, 'hls.js loaded');
      if (source === 'DASH') assert.ok(played.lib.dash, 'dash.js loaded');
    }
    assert.ok(ranges.includes(206), `the MP4 was read with range requests: ${ranges}`);

    // The poster and the sprite thumbnails load through the session too.
    const poster = await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).poster);
    assert.ok(poster.includes('/files/'), `a poster: ${poster}`);
    const seek = page.locator('#seek');
    const box = await seek.boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const preview = page.locator('#seek-preview');
    await preview.waitFor({ state: 'visible' });
    const sprite = await preview
      .locator('.preview-img')
      .evaluate((el) => getComputedStyle(el).backgroundImage);
    assert.match(sprite, /sprite/, `the seek bar shows a sprite thumbnail: ${sprite}`);
    const spriteUrl = /url\("([^"]+)"\)/.exec(sprite)?.[1] ?? '';
    const status = await page.evaluate(async (u) => (await fetch(u)).status, spriteUrl);
    assert.equal(status, 200);
    assert.deepEqual(await cspViolations(page), []);
  });

  await t.test('a file named like markup shows as text, never as markup', async () => {
    await page.goto(`${base}/console/#/`);
    await page
      .locator('#upload-template')
      .selectOption({ label: 'tiny' })
      .catch(() => page.locator('#upload-template').selectOption('tiny'));
    await dropFile(page, '#dropzone', HOSTILE, bytes);
    const job = await waitFor('the hostile upload made a job', async () => {
      const { jobs } = await server.api.listJobs(undefined, 100);
      return jobs.find((j) => j.input.key === HOSTILE);
    });
    const line = row(page, job.id);
    await line.locator('[data-field="status"]', { hasText: 'COMPLETE' }).waitFor({ timeout: 60_000 });
    assert.equal(await line.locator('[data-field="key"]').innerText(), HOSTILE);
    await page.goto(`${base}/console/#/jobs/${job.id}`);
    await page.locator('#job [data-field="status"]', { hasText: 'COMPLETE' }).waitFor();
    assert.equal(await page.locator('main#job h1').innerText(), HOSTILE);
    assert.match(await page.locator('#outputs').innerText(), /<img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no element made from the name');
    assert.deepEqual(dialogs, [], 'no script ran');
  });

  await t.test(
    'the queue and the pool show a running and a waiting job; the running one is canceled from its page',
    async () => {
      const upload = async (key: string, body: Buffer, template: string) => {
        const put = await fetch(`${base}/v1/uploads/${key}?template=${template}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}` },
          body: Uint8Array.from(body),
        });
        assert.equal(put.status, 201);
        const id = ((await put.json()) as { jobs: JobView[] }).jobs[0]?.id;
        assert.ok(id);
        return id;
      };
      const id = await upload(
        'long.mp4',
        await fs.readFile(await clip({ width: 640, height: 360, seconds: 30 })),
        'slow',
      );
      await waitFor('long.mp4 running', async () => (await server.api.getJob(id)).status === 'PROGRESSING');
      // One worker (--concurrency 1): the next upload waits in the queue behind it.
      const waiting = await upload('queued.mp4', bytes, 'tiny');
      await page.goto(`${base}/console/#/`);
      await page.locator(`#queue li[data-job-id="${waiting}"]`, { hasText: 'queued.mp4' }).waitFor();
      assert.equal(await page.locator('#queue li[data-job-id] .pos').first().innerText(), '1');
      await page.locator('#pools [data-pool="local"]', { hasText: 'long.mp4' }).waitFor();
      await page.goto(`${base}/console/#/jobs/${id}`);
      await page
        .locator('#job [data-field="status"]', { hasText: 'PROGRESSING' })
        .waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.locator('#job [data-field="status"]', { hasText: 'CANCELED' }).waitFor({ timeout: 30_000 });
      const after = await server.api.getJob(id);
      assert.equal(after.status, 'CANCELED');
      // The worker it freed takes the waiting job.
      await waitFor(
        'the queued job ran',
        async () => (await server.api.getJob(waiting)).status === 'COMPLETE',
        60_000,
      );
    },
  );

  await t.test('a failed job shows its code and what to do, and is retried from its page', async () => {
    const put = await fetch(`${base}/v1/uploads/broken.mp4`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: Buffer.from('this is not a video, only bytes named like one'.repeat(40)),
    });
    assert.equal(put.status, 201);
    const { jobs } = (await put.json()) as { jobs: JobView[] };
    const id = jobs[0]?.id;
    assert.ok(id);
    await page.goto(`${base}/console/#/jobs/${id}`);
    await page.locator('#job [data-field="status"]', { hasText: 'ERROR' }).waitFor({ timeout: 60_000 });
    const failed = await server.api.getJob(id);
    failedId = id;
    const resubmitted = async (jobId: string) => {
      const r = await fetch(`${base}/v1/jobs/${jobId}/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const { events } = (await r.json()) as { events: { type: string }[] };
      return events.filter((e) => e.type === 'job:resubmitted').length;
    };
    const ended = async (jobId: string) => (await server.api.getJob(jobId)).status === 'ERROR';
    assert.ok(failed.error);
    const error = page.locator('#error');
    assert.equal(await error.locator('[data-field="error-code"]').innerText(), failed.error.code);
    assert.ok((await error.innerText()).length > failed.error.code.length + 20, 'the error says what to do');
    const events = await page.locator('#timeline li').count();
    await page.getByRole('button', { name: 'Retry job' }).click();
    // A retry starts a fresh set of attempts: its mark is the job:resubmitted event, then ERROR again.
    await waitFor('the retry ran', async () => (await resubmitted(id)) === 1 && (await ended(id)));
    await page.locator('#job [data-field="status"]', { hasText: 'ERROR' }).waitFor();
    await waitFor(
      'the timeline shows the retry',
      async () => (await page.locator('#timeline li').count()) > events,
    );
    assert.match(await page.locator('#timeline').innerText(), /retr/i);

    // Every ERROR job of the pipeline at once, from the jobs page.
    await page.goto(`${base}/console/#/`);
    await page.getByRole('button', { name: `Retry all ERROR jobs of ${failed.pipeline}` }).click();
    await waitFor('the pipeline retry ran', async () => (await resubmitted(id)) === 2 && (await ended(id)));
    assert.deepEqual(await cspViolations(page), []);
  });

  await t.test('screenshots of the jobs list and a job page at 1280 and 360 px', async () => {
    assert.ok(watched);
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: width === 360 ? 780 : 900 });
      await page.goto(`${base}/console/#/jobs/${watched.id}`);
      await page.locator('#job [data-field="status"]', { hasText: 'COMPLETE' }).waitFor();
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: path.join(SHOTS, `job-${width}.png`), fullPage: true });
      const jobWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(jobWidth <= width, `the job page fits ${width} px (${jobWidth})`);
      await page.goto(`${base}/console/#/`);
      await row(page, watched.id).waitFor();
      await page.waitForLoadState('networkidle');
      await page.screenshot({ path: path.join(SHOTS, `jobs-${width}.png`), fullPage: true });
      const listWidth = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(listWidth <= width, `the jobs page fits ${width} px (${listWidth})`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.ok(failedId);
    await page.goto(`${base}/console/#/jobs/${failedId}`);
    await page.locator('#job [data-field="status"]', { hasText: 'ERROR' }).waitFor();
    await page.locator('#timeline li').first().waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'job-error-1280.png'), fullPage: true });
  });

  await t.test(
    'a plan preview of a chosen file stores nothing; a template edit is checked field by field; pipelines show their defaults',
    async () => {
      await page.goto(`${base}/console/#/`);
      await page.locator('#jobs tr[data-job-id]').first().waitFor();
      const before = (await server.api.listJobs(undefined, 100)).jobs.length;
      await page
        .locator('#upload-file')
        .setInputFiles({ name: 'preview.mp4', mimeType: 'video/mp4', buffer: bytes });
      await page.locator('#upload-template').selectOption('watched');
      await page.getByRole('button', { name: 'Preview plan' }).click();
      const preview = page.locator('#plan-preview');
      await preview.locator('table').first().waitFor();
      const shown = await preview.innerText();
      assert.match(shown, /360p/, `the watched template's rungs: ${shown}`);
      assert.match(shown, /180p/);
      assert.equal((await server.api.listJobs(undefined, 100)).jobs.length, before, 'a preview makes no job');
      const stored = await fs.readdir(server.source).catch((): string[] => []);
      assert.ok(!stored.includes('preview.mp4'), `a preview stores nothing: ${stored}`);

      // A template with one wrong field: the error is listed against that field's path.
      await page.goto(`${base}/console/#/templates/watched`);
      const editor = page.locator('#template-editor');
      await editor.waitFor();
      await page.locator('#template-settings').getByText('360p').first().waitFor();
      await editor.fill(
        JSON.stringify({ name: 'watched', ladder: [{ name: '360p', height: 360, videoBitrateKbps: 10 }] }),
      );
      await page.getByRole('button', { name: 'Validate' }).click();
      const wrong = page.locator('[data-error-field="ladder[0].videoBitrateKbps"]');
      await wrong.waitFor();
      assert.match(await wrong.innerText(), /ladder\[0\]\.videoBitrateKbps/);

      await page.goto(`${base}/console/#/pipelines`);
      const line = page.locator('#pipelines-table tr[data-pipeline="default"]');
      await line.waitFor();
      const text = await line.innerText();
      assert.match(text, /source\//, `the default pipeline's source: ${text}`);
      assert.match(text, /3 attempts/, `its retry policy with defaults filled in: ${text}`);
    },
  );

  await t.test(
    'keyboard: the drop zone opens the file picker with Enter and Space; every control is named',
    async () => {
      await page.goto(`${base}/console/#/`);
      await page.locator('#jobs tr[data-job-id]').first().waitFor();
      await page.waitForLoadState('networkidle');
      await page.locator('#dropzone').focus();
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'dropzone');
      // The picker opens from the file input's click (Chromium's own dialog event was seen not to reach
      // playwright in CI although the click happened): each key's click on the input is counted.
      await page.evaluate(
        "(() => { window.__picks = 0; document.getElementById('upload-file').addEventListener('click', (e) => { window.__picks++; e.preventDefault(); }); })()",
      );
      await page.keyboard.press('Enter');
      await page.keyboard.press(' ');
      assert.equal(
        await page.evaluate('window.__picks'),
        2,
        'Enter and Space on the drop zone open the file picker',
      );
      assert.equal(await page.locator('#dropzone').getAttribute('tabindex'), '0', 'in the tab order');
      const unnamed = await page.evaluate(() =>
        Array.from(document.querySelectorAll('button, a, input, select, [role="button"], img'))
          .filter((el) => {
            const label = el.getAttribute('aria-label') ?? el.getAttribute('alt') ?? el.getAttribute('title');
            const text = (el as HTMLElement).innerText?.trim();
            const labelled = (el as HTMLInputElement).labels?.length;
            return !label && !text && !labelled && !(el as HTMLInputElement).hidden;
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
      assert.deepEqual(unnamed, [], 'every control has a text alternative');
    },
  );
  assert.deepEqual(dialogs, []);
  await context.close();
});
