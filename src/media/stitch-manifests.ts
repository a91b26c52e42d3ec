// The manifests of a stitched (chunked) encode, pure: HLS media playlists, an HLS master in the form
// ffmpeg writes (finishPackaging replaces it with Sluice's, taking CODECS from it) and a DASH MPD with a
// SegmentTimeline, all built from verified segments. Names and ids are the single pass's (the DASH
// muxer's): init-<id>.m4s, chunk-<id>-<NNNNN>.m4s numbered from 1, audio the last representation.
import type { Plan } from '../templates/ladder.ts';

export interface StitchedSegment {
  /** 0-based; its file is chunk-<id>-<index + 1>. */
  index: number;
  tfdt: number;
  duration: number;
}

export interface StitchedTrack {
  id: number;
  timescale: number;
  segments: StitchedSegment[];
  /** RFC 6381 codec string, from the init segment. */
  codecs: string;
}

export const initName = (id: number) => `init-${id}.m4s`;
export const segmentName = (id: number, index: number) =>
  `chunk-${id}-${String(index + 1).padStart(5, '0')}.m4s`;
export const mediaPlaylistName = (id: number) => `media_${id}.m3u8`;

/** avc1.PPCCLL from the avcC box of an H.264 init segment; mp4a.40.2 for AAC; null when neither. */
export function codecsOfInit(init: Buffer): string | null {
  const avcc = init.indexOf('avcC', 0, 'latin1');
  if (avcc >= 4 && avcc + 8 <= init.length) {
    const hex = (i: number) => (init[avcc + 4 + i] ?? 0).toString(16).padStart(2, '0');
    return `avc1.${hex(1)}${hex(2)}${hex(3)}`;
  }
  if (init.indexOf('mp4a', 0, 'latin1') >= 0) return 'mp4a.40.2';
  return null;
}

const seconds = (ticks: number, timescale: number) => ticks / timescale;

export function buildMediaPlaylist(track: StitchedTrack): string {
  const durations = track.segments.map((s) => seconds(s.duration, track.timescale));
  const target = Math.max(1, ...durations.map((d) => Math.round(d)));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:1',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    `#EXT-X-MAP:URI="${initName(track.id)}"`,
  ];
  track.segments.forEach((s, i) => {
    lines.push(`#EXTINF:${(durations[i] ?? 0).toFixed(6)},`, segmentName(track.id, s.index));
  });
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

/** ffmpeg's master form: what codecsFromFfmpegMaster reads (CODECS per media playlist). */
export function buildFfmpegStyleMaster(
  plan: Plan,
  video: StitchedTrack[],
  audio: StitchedTrack | null,
): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6'];
  if (audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,URI="${mediaPlaylistName(audio.id)}"`,
    );
  }
  video.forEach((t, i) => {
    const r = plan.renditions[i];
    const codecs = [t.codecs, audio?.codecs].filter(Boolean).join(',');
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${(r?.videoBitrateKbps ?? 0) * 1000},CODECS="${codecs}"${audio ? ',AUDIO="audio"' : ''}`,
      mediaPlaylistName(t.id),
    );
  });
  lines.push('');
  return lines.join('\n');
}

/** A frame rate as the MPD's frameRate attribute: 25, 30000/1001, ... */
export function frameRateAttr(rate: number): string {
  if (Number.isInteger(rate)) return String(rate);
  const ntsc = Math.round((rate * 1001) / 1000);
  if (Math.abs((ntsc * 1000) / 1001 - rate) < 0.001) return `${ntsc * 1000}/1001`;
  return String(Math.round(rate * 1000) / 1000);
}

function timeline(track: StitchedTrack): string {
  const out: string[] = [];
  let i = 0;
  const segs = track.segments;
  while (i < segs.length) {
    const s = segs[i] as StitchedSegment;
    let r = 0;
    while (i + r + 1 < segs.length && (segs[i + r + 1] as StitchedSegment).duration === s.duration) r++;
    out.push(`<S t="${s.tfdt}" d="${s.duration}"${r > 0 ? ` r="${r}"` : ''} />`);
    i += r + 1;
  }
  return out.join('');
}

function duration(seconds: number): string {
  return `PT${seconds.toFixed(3)}S`;
}

function template(track: StitchedTrack): string {
  return [
    `\t\t\t\t<SegmentTemplate timescale="${track.timescale}" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">`,
    `\t\t\t\t\t<SegmentTimeline>${timeline(track)}</SegmentTimeline>`,
    '\t\t\t\t</SegmentTemplate>',
  ].join('\n');
}

const total = (t: StitchedTrack) => t.segments.reduce((a, s) => a + s.duration, 0) / t.timescale;

/** The static MPD: one video adaptation set (every rendition), one audio set (the last id). */
export function buildStitchedMpd(plan: Plan, video: StitchedTrack[], audio: StitchedTrack | null): string {
  const length = video[0] ? total(video[0]) : audio ? total(audio) : 0;
  const longest = Math.max(
    ...[...video, ...(audio ? [audio] : [])].flatMap((t) => t.segments.map((s) => s.duration / t.timescale)),
  );
  const rate = plan.frameRate ?? 0;
  const top = plan.renditions[0];
  const [pw, ph] = (top ? aspect(top.width, top.height, top.sar) : [16, 9]) as [number, number];
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static"',
    `\tmediaPresentationDuration="${duration(length)}" maxSegmentDuration="${duration(longest)}" minBufferTime="PT${(plan.segmentSeconds * 2).toFixed(1)}S">`,
    '\t<Period id="0" start="PT0.0S">',
  ];
  if (video.length > 0) {
    const maxW = Math.max(...plan.renditions.map((r) => r.width));
    const maxH = Math.max(...plan.renditions.map((r) => r.height));
    lines.push(
      `\t\t<AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" frameRate="${frameRateAttr(rate)}" maxWidth="${maxW}" maxHeight="${maxH}" par="${pw}:${ph}">`,
    );
    video.forEach((t, i) => {
      const r = plan.renditions[i];
      if (!r) return;
      lines.push(
        `\t\t\t<Representation id="${t.id}" mimeType="video/mp4" codecs="${t.codecs}" bandwidth="${r.videoBitrateKbps * 1000}" width="${r.width}" height="${r.height}" sar="${r.sar.replace('/', ':')}">`,
        template(t),
        '\t\t\t</Representation>',
      );
    });
    lines.push('\t\t</AdaptationSet>');
  }
  if (audio && plan.audio) {
    lines.push(
      `\t\t<AdaptationSet id="${video.length > 0 ? 1 : 0}" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="und">`,
      `\t\t\t<Representation id="${audio.id}" mimeType="audio/mp4" codecs="${audio.codecs}" bandwidth="${plan.audio.bitrateKbps * 1000}" audioSamplingRate="48000">`,
      `\t\t\t\t<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${plan.audio.channels}" />`,
      template(audio),
      '\t\t\t</Representation>',
      '\t\t</AdaptationSet>',
    );
  }
  lines.push('\t</Period>', '</MPD>', '');
  return lines.join('\n');
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Picture aspect ratio of width x height shown at sample aspect `sar` ("640/639"). */
function aspect(width: number, height: number, sar: string): [number, number] {
  const [sn, sd] = sar.split('/').map(Number) as [number, number];
  const num = width * (sn || 1);
  const den = height * (sd || 1);
  const g = gcd(num, den);
  return [num / g, den / g];
}
