// The sprite index a job writes beside its poster (thumbnails/sprites.vtt): WebVTT cues whose text is a
// sprite sheet's URL, relative to the .vtt, with a media fragment `#xywh=x,y,w,h` naming one tile.
// The player's seek bar shows the tile of the time under the pointer.

export interface SpriteCue {
  start: number;
  end: number;
  /** The sheet's absolute URL (resolved against the .vtt's). */
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** `hh:mm:ss.ttt` or `mm:ss.ttt` in seconds; NaN when it is neither. */
export function parseVttTime(text: string): number {
  const m = /^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const [, hh, mm, ss, frac] = m;
  return (
    Number(hh ?? 0) * 3600 + Number(mm) * 60 + Number(ss) + (frac ? Number(frac.padEnd(3, '0')) / 1000 : 0)
  );
}

/** Every well-formed sprite cue of a sprites.vtt, in order; anything else is skipped. */
export function parseSpritesVtt(text: string, vttUrl: string): SpriteCue[] {
  const cues: SpriteCue[] = [];
  const blocks = text.replace(/\r\n?/g, '\n').split(/\n{2,}/);
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const timing = lines.findIndex((l) => l.includes('-->'));
    if (timing < 0) continue;
    const [from, rest] = (lines[timing] ?? '').split('-->');
    const start = parseVttTime(from ?? '');
    const end = parseVttTime((rest ?? '').trim().split(/\s+/)[0] ?? '');
    const ref = lines[timing + 1]?.trim();
    if (!ref || !Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
    const hash = ref.lastIndexOf('#xywh=');
    if (hash < 0) continue;
    const dims = ref
      .slice(hash + '#xywh='.length)
      .split(',')
      .map((v) => Number(v));
    const [x, y, w, h] = dims;
    if (dims.length !== 4 || dims.some((v) => !Number.isInteger(v) || v < 0) || !w || !h) continue;
    let url: string;
    try {
      url = new URL(ref.slice(0, hash), vttUrl).href;
    } catch {
      continue;
    }
    cues.push({ start, end, url, x: x as number, y: y as number, w, h });
  }
  return cues;
}

/** The cue showing at `time` (the last one for a time past the end). */
export function cueAt(cues: SpriteCue[], time: number): SpriteCue | null {
  let lo = 0;
  let hi = cues.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const cue = cues[mid] as SpriteCue;
    if (time < cue.start) hi = mid - 1;
    else if (time >= cue.end) lo = mid + 1;
    else return cue;
  }
  const last = cues[cues.length - 1];
  return last && time >= last.end ? last : null;
}
