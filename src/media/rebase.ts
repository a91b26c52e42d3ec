// Manifests pointed at a version folder, pure. ffmpeg and finish-packaging write manifests whose URIs are
// relative to one folder; a published set keeps its entry points at stable names and the files they
// reference under `v/<version>/`, so each entry point is rewritten with that folder as its base.

/** HLS master: every variant URI line and every URI="..." attribute gets `base` in front. */
export function rebaseHlsMaster(text: string, base: string): string {
  return text
    .split('\n')
    .map((line) => {
      const l = line.trim();
      if (l === '') return line;
      if (!l.startsWith('#')) return isRelative(l) ? base + l : line;
      return line.replace(/URI="([^"]+)"/g, (m, uri: string) =>
        isRelative(uri) ? `URI="${base}${uri}"` : m,
      );
    })
    .join('\n');
}

/**
 * DASH: a BaseURL as the first child of each Period (ISO/IEC 23009-1 5.6) resolves the SegmentTemplate's
 * relative initialization and media names against the version folder.
 */
export function rebaseMpd(text: string, base: string): string {
  if (!/<Period\b/.test(text)) throw new Error('not a DASH manifest: no <Period>');
  return text.replace(/(<Period\b[^>]*>)/g, `$1\n\t\t<BaseURL>${escapeXml(base)}</BaseURL>`);
}

/** Sprite WebVTT: each cue's image URL (before `#xywh=`) gets `base` in front. */
export function rebaseSpriteVtt(text: string, base: string): string {
  return text
    .split('\n')
    .map((line) => (/^[^\s#][^\s]*#xywh=/.test(line) && isRelative(line) ? base + line : line))
    .join('\n');
}

function isRelative(uri: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(uri) && !uri.startsWith('/');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
