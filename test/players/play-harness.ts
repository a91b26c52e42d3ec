// Plays streams in real players for the player tests: HLS in hls.js and DASH in dash.js inside Debian's
// Chromium (H.264/AAC through MSE), driven by playwright-core, from a small HTTP server over a folder.
// No browser download. Shared by players.test.ts and chunked-players.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const LIBS: Record<string, string> = {
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
  'dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

const PAGE = (lib: string, setup: string) => `<!doctype html><html><body>
<video id="v" muted playsinline></video>
<script src="/lib/${lib}"></script>
<script>
  const v = document.getElementById('v');
  const errors = [];
  // The page never pauses: every pause before the end is the player's own doing. Each pause() call is
  // recorded with its caller, and a pause before the end ends the run as a failure (no resume).
  const pauses = [];
  const playerEvents = [];
  let lastPauseCall = null;
  const pause = HTMLMediaElement.prototype.pause;
  HTMLMediaElement.prototype.pause = function () {
    lastPauseCall = { at: this.currentTime, caller: (new Error().stack || '').split('\\n').slice(2, 7).map((l) => l.trim()).join(' < ') };
    return pause.call(this);
  };
  const ranges = (r) => Array.from({ length: r.length }, (_, i) => r.start(i).toFixed(3) + '-' + r.end(i).toFixed(3)).join(',');
  const finish = (ended) => {
    if (window.__result) return;
    const q = v.getVideoPlaybackQuality();
    window.__result = { ended, errors, currentTime: v.currentTime, duration: v.duration, width: v.videoWidth, height: v.videoHeight, heights, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, pauses, playerEvents };
  };
  v.addEventListener('ended', () => finish(true));
  v.addEventListener('pause', () => {
    if (v.ended || window.__result) return;
    // dash.js's own end check (a 200 ms timer) can pause the element at the last frame, currentTime equal
    // to duration, a moment before the element fires 'ended' (seen once in CI under load): nothing was
    // left to play, so that is the end, not an unrequested pause.
    if (v.duration - v.currentTime < 0.05) { playerEvents.push('paused at the end (' + v.currentTime + ' of ' + v.duration + ')'); finish(true); return; }
    pauses.push({ currentTime: v.currentTime, duration: v.duration, buffered: ranges(v.buffered), pauseCall: lastPauseCall });
    console.log('unrequested pause at ' + v.currentTime + ' of ' + v.duration);
    finish(false);
  });
  setInterval(() => console.log('t=' + v.currentTime + ' rs=' + v.readyState + ' d=' + v.duration), 2000);
  v.addEventListener('error', () => { errors.push('video element: ' + (v.error && v.error.message)); finish(false); });
  const params = new URLSearchParams(location.search);
  const src = params.get('src');
  // height: pin the video rendition of that height (no adaptive switching); rate: playback rate.
  const pin = params.get('height') ? Number(params.get('height')) : null;
  const heights = [];
  v.addEventListener('resize', () => heights.push(v.videoHeight));
  ${setup}
  v.defaultPlaybackRate = v.playbackRate = Number(params.get('rate') || 1);
  // A setup may set window.__ready (a promise) when it starts the player later.
  Promise.resolve(window.__ready).then(() => v.play()).catch((e) => { errors.push('play: ' + e.message); finish(false); });
</script></body></html>`;

const HLS_SETUP = `
  const hls = new Hls({ debug: false });
  hls.on(Hls.Events.ERROR, (_e, d) => { errors.push('hls.js ' + d.type + ' ' + d.details + (d.fatal ? ' (fatal)' : '')); if (d.fatal) finish(false); });
  if (pin !== null) hls.on(Hls.Events.MANIFEST_PARSED, () => {
    const i = hls.levels.findIndex((l) => l.height === pin);
    if (i < 0) { errors.push('no level of height ' + pin); finish(false); return; }
    hls.currentLevel = i;
  });
  hls.loadSource(src); hls.attachMedia(v);`;
const DASH_SETUP = `
  const player = dashjs.MediaPlayer().create();
  player.on(dashjs.MediaPlayer.events.ERROR, (e) => { errors.push('dash.js ' + JSON.stringify(e.error && (e.error.message || e.error.code) || e)); finish(false); });
  // dash.js decides by itself that playback ended once currentTime reaches the MPD's duration; note when
  // it does so before the element has ended.
  player.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, () => playerEvents.push('dash.js PLAYBACK_ENDED at ' + v.currentTime.toFixed(3) + (v.ended ? '' : ' before the element ended (duration ' + v.duration + ')')));
  if (pin === null) player.initialize(v, src, false);
  else {
    // Pinned from the first segment: no ABR, and the start quality is the one whose bandwidth (read
    // from the MPD) the initial bitrate names; STREAM_INITIALIZED then selects it explicitly too.
    window.__ready = fetch(src).then((r) => r.text()).then((mpd) => {
      const rep = [...mpd.matchAll(/<Representation [^>]*>/g)].map((m) => m[0]).find((t) => t.includes('height="' + pin + '"'));
      const bandwidth = rep && Number(/bandwidth="([0-9]+)"/.exec(rep)[1]);
      if (!bandwidth) { errors.push('no representation of height ' + pin); finish(false); return; }
      player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: false }, initialBitrate: { video: bandwidth / 1000 } } } });
      player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
        const r = player.getRepresentationsByType('video').find((x) => x.height === pin);
        if (!r) { errors.push('no representation of height ' + pin); finish(false); return; }
        player.setRepresentationForTypeById('video', r.id, true);
      });
      player.initialize(v, src, false);
    });
  }`;

export interface Harness {
  /** The HTTP server's origin; `/media/<path>` serves `<root>/<path>`. */
  base: string;
  /** Undefined when the machine has no Chromium (tests skip). */
  browser: Browser | undefined;
  close(): Promise<void>;
}

export interface PlayOptions {
  /** Pin the video rendition of this height (hls.js currentLevel; dash.js without ABR). */
  height?: number;
  /** Playback rate (1 unless told). */
  rate?: number;
  /** How long one try may run without a result (30 s unless told). */
  timeoutMs?: number;
}

async function serveFiles(root: string): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let file: string | null = null;
    let body: string | null = null;
    if (url.pathname === '/hls.html') body = PAGE('hls.js', HLS_SETUP);
    else if (url.pathname === '/dash.html') body = PAGE('dash.js', DASH_SETUP);
    else if (url.pathname.startsWith('/lib/')) file = LIBS[url.pathname.slice(5)] ?? null;
    else if (url.pathname.startsWith('/media/')) {
      const rel = path.normalize(decodeURIComponent(url.pathname.slice(7)));
      if (!rel.startsWith('..')) file = path.join(root, rel);
    }
    if (body !== null) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(body);
      return;
    }
    const data = file ? await fs.readFile(file).catch(() => null) : null;
    if (!data) {
      res.writeHead(404).end();
      return;
    }
    const type = file?.endsWith('.m3u8')
      ? 'application/vnd.apple.mpegurl'
      : file?.endsWith('.mpd')
        ? 'application/dash+xml'
        : file?.endsWith('.js')
          ? 'text/javascript'
          : 'video/mp4';
    res.writeHead(200, { 'content-type': type }).end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Serves `root` and launches Chromium (when there is one). */
export async function startHarness(root: string): Promise<Harness> {
  const { server, base } = await serveFiles(root);
  let browser: Browser | undefined;
  if (existsSync(CHROMIUM)) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  }
  return {
    base,
    browser,
    close: async () => {
      await browser?.close();
      server.close();
    },
  };
}

async function playOnce(h: Harness, page: 'hls' | 'dash', src: string, o: PlayOptions) {
  const browser = h.browser;
  assert.ok(browser);
  const tab = await browser.newPage();
  const log: string[] = [];
  tab.on('console', (m) => log.push(m.text()));
  try {
    const query = new URLSearchParams({ src });
    if (o.height) query.set('height', String(o.height));
    if (o.rate) query.set('rate', String(o.rate));
    await tab.goto(`${h.base}/${page}.html?${query}`);
    const done = await tab
      .waitForFunction(() => (window as unknown as { __result?: unknown }).__result, null, {
        timeout: o.timeoutMs ?? 30_000,
      })
      .then(
        () => true,
        () => false,
      );
    if (!done) return { timedOut: true as const, log: log.slice(-10).join(' | ') };
    return (await tab.evaluate(() => (window as unknown as { __result: unknown }).__result)) as PlayResult;
  } finally {
    await tab.close();
  }
}

export interface PlayResult {
  ended: boolean;
  errors: string[];
  currentTime: number;
  duration: number;
  width: number;
  height: number;
  /** videoHeight at each resize: the renditions shown, in order. */
  heights: number[];
  frames: number;
  dropped: number;
  /** Pauses before the end, which the page never asks for. */
  pauses: {
    currentTime: number;
    duration: number;
    buffered: string;
    pauseCall: { at: number; caller: string } | null;
  }[];
  playerEvents: string[];
}

/**
 * Plays `src` in a fresh tab. A run that neither ends nor reports anything in 30 s (or `timeoutMs`) (headless Chromium
 * on a loaded 2-core machine has been seen to stall once) gets one more try in a new tab; a player
 * error or a short play is never retried.
 */
export async function play(
  h: Harness,
  page: 'hls' | 'dash',
  src: string,
  t: { diagnostic(m: string): void },
  o: PlayOptions = {},
): Promise<PlayResult> {
  for (let attempt = 1; ; attempt++) {
    const r = await playOnce(h, page, src, o);
    if (!('timedOut' in r)) return r;
    t.diagnostic(
      `${page}: no result in ${(o.timeoutMs ?? 30_000) / 1000} s on try ${attempt}; console: ${r.log}`,
    );
    if (attempt === 2) throw new Error(`${page}: no result in two tries; console: ${r.log}`);
  }
}

/**
 * A good stream played whole: no player error, no pause the page did not ask for, the end reached, and
 * the frames decoded (4 s at 30 fps unless told; a player that skips a bad segment still "ends", hence the frame count).
 */
export function assertPlayedWhole(
  page: string,
  r: PlayResult,
  t: { diagnostic(m: string): void },
  o: { minDuration: number; minFrames?: number },
): void {
  t.diagnostic(`${page}: ${JSON.stringify(r)}`);
  assert.deepEqual(r.errors, [], `${page}: no player error`);
  // dash.js has been seen to pause at 3.5 s of 4: its 200 ms "ended" timer saw currentTime reach the
  // MPD's duration (4.0 s) while the audio still ran to 4.011 s, ended playback itself (pause) and
  // clamped its seek to the end back by streaming.seekDurationBackoff (0.5 s). See the MPD test below.
  assert.deepEqual(
    r.pauses,
    [],
    `${page}: the player paused by itself before the end: ${JSON.stringify(r.pauses)}; ${r.playerEvents.join('; ')}`,
  );
  assert.equal(r.ended, true, `${page}: played to the end`);
  assert.ok(
    r.duration > o.minDuration && r.currentTime >= r.duration - 0.3,
    `${page}: ${r.currentTime} of ${r.duration} s`,
  );
  const minFrames = o.minFrames ?? 114;
  assert.ok(
    r.frames >= minFrames,
    `${page}: ${r.frames} frames decoded (${r.dropped} dropped), wanted ${minFrames}`,
  );
}
