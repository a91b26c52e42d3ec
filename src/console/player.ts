// The job page's player: the job's own outputs served by Sluice (GET /v1/jobs/<id>/files/…, with range
// requests), HLS through hls.js (the browser's own HLS where hls.js cannot run, as on iOS), DASH through
// dash.js, the MP4 as is; the poster; a seek bar that shows the sprite tile of the time under the
// pointer (thumbnails/sprites.vtt). The players' scripts are loaded here only, never on the first page.
import type { Stop } from './app.ts';
import { h, setText } from './dom.ts';
import { formatDuration, outputUrl } from './format.ts';
import { cueAt, parseSpritesVtt, type SpriteCue } from './sprites-vtt.ts';
import type { JobView } from './types.ts';

type Source = 'HLS' | 'DASH' | 'MP4';

interface HlsLike {
  loadSource(url: string): void;
  attachMedia(video: HTMLVideoElement): void;
  on(event: string, cb: (event: string, data: { fatal?: boolean; details?: string }) => void): void;
  destroy(): void;
}
interface HlsStatic {
  new (config?: Record<string, unknown>): HlsLike;
  isSupported(): boolean;
  Events: { ERROR: string };
}
interface DashPlayer {
  initialize(video: HTMLVideoElement, url: string, autoPlay: boolean): void;
  on(event: string, cb: (e: { error?: { message?: string } }) => void): void;
  reset(): void;
}
interface DashStatic {
  MediaPlayer(): { create(): DashPlayer };
}

const scripts = new Map<string, Promise<void>>();
/** A vendor script by a <script src> on this origin (CSP: script-src 'self'), once per page load. */
function loadScript(src: string): Promise<void> {
  let p = scripts.get(src);
  if (!p) {
    p = new Promise<void>((resolve, reject) => {
      const s = h('script', { src, async: true });
      s.addEventListener('load', () => resolve());
      s.addEventListener('error', () => {
        scripts.delete(src);
        s.remove();
        reject(new Error(`could not load ${src}`));
      });
      document.head.append(s);
    });
    scripts.set(src, p);
  }
  return p;
}

export function renderPlayer(job: JobView): { element: HTMLElement; stop: Stop } {
  const url = (type: string) => {
    const o = job.outputs.find((x) => x.type === type);
    return o ? outputUrl(job.id, o.key, job.destination.prefix) : null;
  };
  const sources: Partial<Record<Source, string>> = {};
  const hls = url('hls');
  const dash = url('dash');
  const mp4 = url('mp4');
  if (hls) sources.HLS = hls;
  if (dash) sources.DASH = dash;
  if (mp4) sources.MP4 = mp4;
  const poster = url('thumbnail');
  const sprites = url('sprites');
  const available = (['HLS', 'DASH', 'MP4'] as Source[]).filter((s) => sources[s]);

  if (available.length === 0) {
    return {
      element: h(
        'p',
        { class: 'note' },
        job.status === 'COMPLETE'
          ? 'This job has no playable output.'
          : 'The player appears when the job completes.',
      ),
      stop: () => undefined,
    };
  }

  const video = h('video', {
    id: 'video',
    playsinline: true,
    preload: 'metadata',
    poster: poster ?? undefined,
  });
  const message = h('p', { class: 'note player-message', role: 'status' });
  const playLabel = h('span', { class: 'btn-label' }, 'Play');
  const play = h(
    'button',
    { type: 'button', class: 'icon-button play', 'aria-label': 'Play', onclick: () => togglePlay() },
    h('span', { class: 'icon', 'aria-hidden': 'true' }),
    playLabel,
  );
  const seek = h('input', {
    type: 'range',
    id: 'seek',
    min: '0',
    max: '0',
    step: '0.01',
    value: '0',
    'aria-label': 'Seek',
    disabled: true,
  });
  const previewImg = h('div', { class: 'preview-img' });
  const previewTime = h('span', { class: 'preview-time' });
  const preview = h(
    'div',
    { id: 'seek-preview', class: 'seek-preview', hidden: true, 'aria-hidden': 'true' },
    previewImg,
    previewTime,
  );
  const time = h('span', { class: 'time', 'aria-live': 'off' }, '0:00 / 0:00');
  const muteLabel = h('span', { class: 'btn-label' }, 'Mute');
  const mute = h(
    'button',
    {
      type: 'button',
      class: 'icon-button mute',
      'aria-label': 'Mute',
      onclick: () => {
        video.muted = !video.muted;
      },
    },
    h('span', { class: 'icon', 'aria-hidden': 'true' }),
    muteLabel,
  );
  const frame = h('div', { class: 'video-frame' }, video);
  const full = h(
    'button',
    {
      type: 'button',
      class: 'icon-button full',
      'aria-label': 'Full screen',
      onclick: () => {
        if (document.fullscreenElement) void document.exitFullscreen();
        else void frame.requestFullscreen?.().catch(() => undefined);
      },
    },
    h('span', { class: 'icon', 'aria-hidden': 'true' }),
    h('span', { class: 'btn-label' }, 'Full screen'),
  );

  const sourceButtons = new Map<Source, HTMLButtonElement>();
  const sourceGroup = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Source' },
    (['HLS', 'DASH', 'MP4'] as Source[]).map((s) => {
      const b = h(
        'button',
        { type: 'button', 'aria-pressed': 'false', disabled: !sources[s], onclick: () => void use(s) },
        s,
      );
      sourceButtons.set(s, b);
      return b;
    }),
  );
  const links = h(
    'p',
    { class: 'hint links' },
    'Open: ',
    available.flatMap((s, i) => [
      i ? ' · ' : '',
      h(
        'a',
        { href: sources[s] as string },
        s === 'HLS' ? 'master.m3u8' : s === 'DASH' ? 'manifest.mpd' : 'MP4',
      ),
    ]),
    poster ? [' · ', h('a', { href: poster }, 'poster')] : null,
  );

  const seekWrap = h('div', { class: 'seek-wrap' }, seek, preview);
  const element = h(
    'div',
    { class: 'player' },
    frame,
    h('div', { class: 'controls' }, play, seekWrap, time, mute, full),
    h('div', { class: 'player-foot' }, sourceGroup, links),
    message,
  );

  let current: Source | null = null;
  let detach: (() => void) | null = null;
  let cues: SpriteCue[] = [];
  let seeking = false;
  let stopped = false;

  async function use(s: Source): Promise<void> {
    const src = sources[s];
    if (!src || stopped) return;
    // Another source goes on where this one is, except after the end: then it starts from the start.
    const at = video.ended ? 0 : video.currentTime;
    const wasPlaying = !video.paused;
    detach?.();
    detach = null;
    current = s;
    for (const [name, b] of sourceButtons) b.setAttribute('aria-pressed', String(name === s));
    setText(message, '');
    try {
      if (s === 'HLS') {
        await loadScript('/console/vendor/hls.min.js');
        // Left the page or picked another source while the script loaded: no player for this one.
        if (stopped || current !== s) return;
        const Hls = (window as unknown as { Hls?: HlsStatic }).Hls;
        if (Hls?.isSupported()) {
          const player = new Hls({ startPosition: at > 0 ? at : -1 });
          player.on(Hls.Events.ERROR, (_e, data) => {
            if (data.fatal) setText(message, `HLS playback failed: ${data.details ?? 'error'}`);
          });
          player.loadSource(src);
          player.attachMedia(video);
          detach = () => player.destroy();
        } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
          video.src = src;
          detach = () => clearSrc();
        } else throw new Error('this browser cannot play HLS');
      } else if (s === 'DASH') {
        await loadScript('/console/vendor/dash.all.min.js');
        if (stopped || current !== s) return;
        const dashjs = (window as unknown as { dashjs?: DashStatic }).dashjs;
        if (!dashjs) throw new Error('dash.js did not load');
        const player = dashjs.MediaPlayer().create();
        player.on('error', (e) => setText(message, `DASH playback failed: ${e.error?.message ?? 'error'}`));
        player.initialize(video, src, false);
        detach = () => player.reset();
      } else {
        video.src = src;
        detach = () => clearSrc();
      }
      if (current !== s || stopped) return;
      if (at > 0 && s !== 'HLS')
        video.addEventListener('loadedmetadata', () => (video.currentTime = at), { once: true });
      if (wasPlaying) void video.play().catch(() => undefined);
    } catch (err) {
      if (stopped || current !== s) return;
      setText(message, `${s}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function clearSrc(): void {
    video.removeAttribute('src');
    video.load();
  }

  function togglePlay(): void {
    if (video.paused || video.ended)
      void video.play().catch((err) => setText(message, `Cannot play: ${err.message}`));
    else video.pause();
  }

  const syncPlay = () => {
    const label = video.paused || video.ended ? 'Play' : 'Pause';
    play.setAttribute('aria-label', label);
    setText(playLabel, label);
    play.classList.toggle('playing', label === 'Pause');
  };
  const syncTime = () => {
    const d = Number.isFinite(video.duration) ? video.duration : 0;
    if (seek.max !== String(d)) seek.max = String(d);
    seek.disabled = d <= 0;
    if (!seeking) seek.value = String(video.currentTime);
    const text = `${formatDuration(video.currentTime)} / ${formatDuration(d)}`;
    setText(time, text);
    seek.setAttribute('aria-valuetext', `${formatDuration(Number(seek.value))} of ${formatDuration(d)}`);
  };
  video.addEventListener('play', syncPlay);
  video.addEventListener('pause', syncPlay);
  video.addEventListener('ended', syncPlay);
  video.addEventListener('timeupdate', syncTime);
  video.addEventListener('durationchange', syncTime);
  video.addEventListener('loadedmetadata', syncTime);
  video.addEventListener('click', togglePlay);
  video.addEventListener('volumechange', () => {
    const label = video.muted ? 'Unmute' : 'Mute';
    mute.setAttribute('aria-label', label);
    setText(muteLabel, label);
    mute.classList.toggle('muted', video.muted);
  });
  video.addEventListener('error', () => {
    if (current === 'MP4' || current === null)
      setText(message, `Playback failed: ${video.error?.message || 'media error'}`);
  });

  seek.addEventListener('input', () => {
    seeking = true;
    video.currentTime = Number(seek.value);
    showPreview(Number(seek.value));
    syncTime();
  });
  seek.addEventListener('change', () => {
    seeking = false;
  });
  seek.addEventListener('pointermove', (e) => {
    const r = seek.getBoundingClientRect();
    const ratio = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    showPreview(ratio * Number(seek.max));
  });
  seek.addEventListener('pointerleave', () => {
    if (document.activeElement !== seek) preview.hidden = true;
  });
  seek.addEventListener('focus', () => showPreview(Number(seek.value)));
  seek.addEventListener('blur', () => {
    preview.hidden = true;
    seeking = false;
  });

  /** The sprite tile of `t` above the seek bar, at `t`'s place along it (kept inside the bar). */
  function showPreview(t: number): void {
    const max = Number(seek.max);
    if (!(max > 0)) return;
    const cue = cueAt(cues, t);
    if (cue) {
      previewImg.hidden = false;
      previewImg.style.width = `${cue.w}px`;
      previewImg.style.height = `${cue.h}px`;
      previewImg.style.backgroundImage = `url("${cue.url.replace(/["\\\n]/g, encodeURIComponent)}")`;
      previewImg.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    } else previewImg.hidden = true;
    setText(previewTime, formatDuration(t));
    preview.hidden = false;
    const width = seekWrap.clientWidth;
    const half = (cue?.w ?? 48) / 2;
    const x = Math.min(Math.max((t / max) * width, half), Math.max(half, width - half));
    preview.style.left = `${x}px`;
  }

  if (sprites) {
    const vttUrl = new URL(sprites, location.href).href;
    void fetch(vttUrl, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.text() : ''))
      .then((text) => {
        cues = parseSpritesVtt(text, vttUrl);
      })
      .catch(() => undefined);
  }

  void use(available[0] as Source);
  return {
    element,
    stop: () => {
      stopped = true;
      video.pause();
      detach?.();
    },
  };
}
