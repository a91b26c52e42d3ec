// The upload panel of the jobs page: a drop zone (a dropped file is uploaded at once; a chosen one
// waits for "Upload"), a template picker, the upload's progress (XHR upload events: fetch has none),
// and a dry-run plan of a chosen file (POST /v1/plan/file) before anything is stored.
import { describeError, problemOf, query } from './api.ts';
import { h, replace, section, setText, tableWrap } from './dom.ts';
import { formatBitrate, formatBytes, formatDuration, uploadPath } from './format.ts';
import type { JobView, PlanView } from './types.ts';

export function renderUpload(o: { onJobs(jobs: JobView[]): void }): { element: HTMLElement; stop(): void } {
  let file: File | null = null;
  let xhr: XMLHttpRequest | null = null;
  // The preview in flight: a new one, or leaving the page, aborts it (its file upload and probe).
  let previewing: AbortController | null = null;

  const input = h('input', {
    type: 'file',
    id: 'upload-file',
    class: 'sr-only',
    tabindex: '-1',
    'aria-label': 'Choose a video to upload',
    accept: 'video/*,audio/*,.mxf,.mkv,.ts,.m2ts',
  });
  const chosen = h('p', { class: 'chosen', 'aria-live': 'polite' }, 'No file chosen.');
  const dropzone = h(
    'div',
    {
      id: 'dropzone',
      class: 'dropzone',
      role: 'button',
      tabindex: '0',
      'aria-label': 'Upload a video: drop a file here or press to choose one',
      onclick: () => input.click(),
      onkeydown: (e) => {
        const key = (e as KeyboardEvent).key;
        if (key === 'Enter' || key === ' ') {
          e.preventDefault();
          input.click();
        }
      },
      ondragenter: (e) => {
        e.preventDefault();
        dropzone.classList.add('over');
      },
      ondragover: (e) => {
        e.preventDefault();
        const dt = (e as DragEvent).dataTransfer;
        if (dt) dt.dropEffect = 'copy';
      },
      ondragleave: () => dropzone.classList.remove('over'),
      ondrop: (e) => {
        e.preventDefault();
        dropzone.classList.remove('over');
        const dropped = (e as DragEvent).dataTransfer?.files?.[0];
        if (!dropped) return;
        choose(dropped);
        void upload();
      },
    },
    h('span', { class: 'drop-icon', 'aria-hidden': 'true' }),
    h('span', { class: 'drop-title' }, 'Drop a video here to upload it'),
    h('span', { class: 'drop-sub' }, 'or press to choose a file'),
  );
  input.addEventListener('change', () => {
    const picked = input.files?.[0];
    if (picked) choose(picked);
  });

  const template = h(
    'select',
    { name: 'template', id: 'upload-template' },
    h('option', { value: '' }, '(pipeline default)'),
  );
  void fetch('/v1/templates', { credentials: 'same-origin' })
    .then((r) =>
      r.ok ? (r.json() as Promise<{ templates: { name: string; description?: string }[] }>) : null,
    )
    .then((body) => {
      for (const t of body?.templates ?? [])
        template.append(h('option', { value: t.name, title: t.description ?? '' }, t.name));
    })
    .catch(() => undefined);

  const progress = h('progress', {
    id: 'upload-progress',
    max: '100',
    value: '0',
    'aria-label': 'Upload progress',
  });
  const progressText = h('span', { class: 'pct' }, '');
  const status = h('p', { class: 'note', role: 'status' });
  const uploadButton = h(
    'button',
    { type: 'button', class: 'button primary', disabled: true, onclick: () => void upload() },
    'Upload',
  );
  const previewButton = h(
    'button',
    { type: 'button', class: 'button', disabled: true, onclick: () => void runPreview() },
    'Preview plan',
  );
  const cancelButton = h(
    'button',
    { type: 'button', class: 'button subtle', hidden: true, onclick: () => xhr?.abort() },
    'Cancel upload',
  );
  const previewBox = h('div', {
    id: 'plan-preview',
    class: 'plan-preview',
    hidden: true,
    'aria-live': 'polite',
  });

  function choose(f: File): void {
    file = f;
    setText(chosen, `${f.name} · ${formatBytes(f.size)}`);
    uploadButton.disabled = false;
    previewButton.disabled = false;
    progress.value = 0;
    setText(progressText, '');
    setText(status, '');
  }

  async function upload(): Promise<void> {
    if (!file || xhr) return;
    const f = file;
    const req = new XMLHttpRequest();
    xhr = req;
    uploadButton.disabled = true;
    cancelButton.hidden = false;
    setText(status, `Uploading ${f.name}…`);
    req.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const percent = (e.loaded / e.total) * 100;
      progress.value = percent;
      setText(progressText, `${Math.floor(percent)}%`);
    };
    const done = new Promise<void>((resolve) => {
      req.onloadend = () => resolve();
    });
    req.open('PUT', `/v1/uploads/${uploadPath(f.name)}${query({ template: template.value })}`);
    req.setRequestHeader('content-type', 'application/octet-stream');
    req.setRequestHeader('accept', 'application/json');
    req.send(f);
    await done;
    xhr = null;
    uploadButton.disabled = false;
    cancelButton.hidden = true;
    if (req.status === 0) {
      setText(status, 'Upload canceled or the connection was lost; nothing was stored.');
      return;
    }
    let body: unknown = null;
    try {
      body = JSON.parse(req.responseText);
    } catch {
      // not JSON
    }
    if (req.status >= 200 && req.status < 300) {
      progress.value = 100;
      setText(progressText, '100%');
      const jobs = ((body as { jobs?: JobView[] } | null)?.jobs ?? []) as JobView[];
      replace(
        status,
        `Uploaded ${f.name}: `,
        jobs.length === 0
          ? 'no pipeline made a job of it.'
          : jobs.flatMap((j, i) => [
              i ? ', ' : '',
              h('a', { href: `#/jobs/${encodeURIComponent(j.id)}` }, `job ${j.id}`),
            ]),
      );
      o.onJobs(jobs);
    } else {
      const err = await problemOf(new Response(req.responseText, { status: req.status }));
      setText(status, `Upload refused: ${err.code}: ${err.message}`);
    }
  }

  async function runPreview(): Promise<void> {
    if (!file) return;
    const f = file;
    previewing?.abort();
    const controller = new AbortController();
    previewing = controller;
    previewButton.disabled = true;
    previewBox.hidden = false;
    replace(previewBox, h('p', { class: 'note' }, `Probing ${f.name}…`));
    try {
      const res = await fetch(`/v1/plan/file${query({ template: template.value, name: f.name })}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/octet-stream', accept: 'application/json' },
        body: f,
        signal: controller.signal,
      });
      if (!res.ok) throw await problemOf(res);
      const view = (await res.json()) as PlanView;
      if (controller.signal.aborted) return;
      renderPlanPreview(previewBox, view);
    } catch (err) {
      if (controller.signal.aborted) return;
      replace(previewBox, h('p', { class: 'error-text', role: 'alert' }, `No plan: ${describeError(err)}`));
    } finally {
      if (previewing === controller) {
        previewing = null;
        previewButton.disabled = false;
      }
    }
  }

  const element = section(
    'upload',
    'Upload',
    dropzone,
    input,
    chosen,
    h('div', { class: 'field' }, h('label', { for: 'upload-template' }, 'Template'), template),
    h('div', { class: 'progress-line' }, progress, progressText),
    h('div', { class: 'actions' }, uploadButton, previewButton, cancelButton),
    status,
    previewBox,
  );
  return {
    element,
    stop: () => {
      xhr?.abort();
      previewing?.abort();
    },
  };
}

/** A plan as a table of renditions (the job page's #plan uses it too). */
export function planTable(plan: PlanView['plan'], caption: string): HTMLTableElement {
  const rate = (kbps: number, max?: number) =>
    `${formatBitrate(kbps * 1000)}${max ? ` (max ${formatBitrate(max * 1000)})` : ''}`;
  return h(
    'table',
    { class: 'data plan-table' },
    h('caption', null, caption),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['Rendition', 'Resolution', 'Bitrate', 'Codecs'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      null,
      plan.renditions.map((r) =>
        h(
          'tr',
          null,
          h('td', { 'data-label': 'Rendition' }, r.name),
          h('td', { 'data-label': 'Resolution' }, `${r.width}×${r.height}`),
          h('td', { 'data-label': 'Bitrate' }, rate(r.videoBitrateKbps, r.maxrateKbps)),
          h('td', { 'data-label': 'Codecs' }, h('code', null, r.codecs)),
        ),
      ),
      plan.audio
        ? h(
            'tr',
            null,
            h('td', { 'data-label': 'Rendition' }, 'audio'),
            h('td', { 'data-label': 'Resolution' }, `${plan.audio.channels} ch`),
            h('td', { 'data-label': 'Bitrate' }, rate(plan.audio.bitrateKbps)),
            h('td', { 'data-label': 'Codecs' }, h('code', null, plan.audio.codecs)),
          )
        : null,
    ),
  );
}

export function planSummary(plan: PlanView['plan']): string {
  const formats = [plan.hls && 'HLS', plan.dash && 'DASH', plan.mp4 && 'MP4'].filter(Boolean).join(' + ');
  const parts = [
    formats || null,
    plan.durationSeconds !== null ? formatDuration(plan.durationSeconds) : null,
    plan.frameRate ? `${plan.frameRate} fps` : null,
    plan.segmentSeconds ? `${plan.segmentSeconds} s segments` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}

function renderPlanPreview(el: HTMLElement, view: PlanView): void {
  const media = view.input;
  replace(
    el,
    h('h3', null, `Plan with ${view.template}`),
    h(
      'p',
      { class: 'hint' },
      `Input: ${media.video ? `${media.video.width}×${media.video.height} ${media.video.codec}` : 'no video'}` +
        `${media.audio ? `, ${media.audio.codec} ${media.audio.channels} ch` : ', no audio'}` +
        ` · ${formatDuration(media.durationSeconds)}`,
    ),
    tableWrap(planTable(view.plan, 'Renditions')),
    h('p', { class: 'hint' }, planSummary(view.plan)),
  );
}
