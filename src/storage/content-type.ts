// The HTTP headers an object is stored with, from its key alone (pure): what a CDN or player in front of
// the destination bucket needs. Manifests and other entry points keep their stable names and are replaced
// on republish, so caches must revalidate them; files under a version folder (`…/v/<version>/…`) are
// written once by one attempt and never change, so they may be cached for good.

const TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.ts': 'video/mp2t',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.vtt': 'text/vtt',
  '.json': 'application/json',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.flac': 'audio/flac',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
};

export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Stable names: a cache may keep the bytes but must ask (an ETag makes that cheap) before reusing them. */
export const REVALIDATE = 'no-cache';

export function contentTypeOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && TYPES[name.slice(dot)]) || 'application/octet-stream';
}

/** Under a version folder (`v/<version>/`, at any depth): immutable; anything else: revalidate. */
export function cacheControlOf(key: string): string {
  return /(^|\/)v\/[^/]+\/./.test(key) ? IMMUTABLE : REVALIDATE;
}

export function objectHeadersOf(key: string): { contentType: string; cacheControl: string } {
  return { contentType: contentTypeOf(key), cacheControl: cacheControlOf(key) };
}
