// Packaging after the encode, pure: measured renditions from the media playlists, the HLS master
// playlist Sluice publishes (ffmpeg's lacks AVERAGE-BANDWIDTH and FRAME-RATE), the sprites' WebVTT index.
import type { Plan } from '../templates/ladder.ts';

export interface MediaPlaylist {
  /** Segment URIs with their durations, in order. */
  segments: { uri: string; duration: number }[];
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const segments: { uri: string; duration: number }[] = [];
  let pending: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) pending = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && pending !== null) {
      segments.push({ uri: line, duration: pending });
      pending = null;
    }
  }
  return { segments };
}

/**
 * A last segment this short is folded into the one before it. AAC priming shifts audio by ~21 ms, so an
 * input whose length is a whole number of segments ends with a 21 ms audio segment; hls.js then stalls
 * a few frames before the end instead of ending. Two fMP4 fragments in one file are still one valid
 * CMAF segment, and DASH players, which count segments from the duration, never asked for the tiny one.
 */
export function tinyTail(
  parsed: MediaPlaylist,
  segmentSeconds: number,
): { last: string; into: string } | null {
  const n = parsed.segments.length;
  const last = parsed.segments[n - 1];
  const before = parsed.segments[n - 2];
  if (!last || !before || last.duration >= Math.min(0.5, segmentSeconds / 4)) return null;
  return { last: last.uri, into: before.uri };
}

/** The media playlist without its last segment, whose duration is added to the one before. */
export function foldLastSegment(text: string): string {
  const lines = text.split('\n');
  const uriIdx = (from: number) => {
    for (let i = from; i >= 0; i--) if (lines[i]?.trim() && !lines[i]?.startsWith('#')) return i;
    return -1;
  };
  const lastUri = uriIdx(lines.length - 1);
  const prevUri = uriIdx(lastUri - 1);
  const infIdx = (uri: number) => {
    for (let i = uri - 1; i >= 0; i--) if (lines[i]?.startsWith('#EXTINF:')) return i;
    return -1;
  };
  const lastInf = infIdx(lastUri);
  const prevInf = infIdx(prevUri);
  if (lastUri < 0 || prevUri < 0 || lastInf < 0 || prevInf < 0) return text;
  const dur = (i: number) => Number.parseFloat((lines[i] ?? '').slice(8));
  lines[prevInf] = `#EXTINF:${(dur(prevInf) + dur(lastInf)).toFixed(6)},`;
  // Drop the last segment's EXTINF, its tags (PROGRAM-DATE-TIME) and its URI.
  lines.splice(lastInf, lastUri - lastInf + 1);
  return lines.join('\n');
}

export interface MeasuredStream {
  /** Media playlist file name (media_N.m3u8); N is the stream's index in the encode. */
  playlist: string;
  segments: number;
  durationSeconds: number;
  bytes: number;
  averageBitrate: number;
  peakBitrate: number;
}

/** Bitrates from segment sizes: average over the stream, peak over the worst segment. */
export function measureStream(
  playlist: string,
  parsed: MediaPlaylist,
  sizes: number[],
  initBytes: number,
): MeasuredStream {
  const duration = parsed.segments.reduce((a, s) => a + s.duration, 0);
  const bytes = sizes.reduce((a, b) => a + b, 0);
  let peak = 0;
  parsed.segments.forEach((s, i) => {
    if (s.duration > 0) peak = Math.max(peak, ((sizes[i] ?? 0) * 8) / s.duration);
  });
  return {
    playlist,
    segments: parsed.segments.length,
    durationSeconds: Math.round(duration * 1000) / 1000,
    bytes: bytes + initBytes,
    averageBitrate: duration > 0 ? Math.round((bytes * 8) / duration) : 0,
    peakBitrate: Math.round(peak),
  };
}

/** CODECS per media playlist as ffmpeg wrote them (they come from the actual encoded streams). */
export function codecsFromFfmpegMaster(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n').map((l) => l.trim());
  lines.forEach((line, i) => {
    const codecs = /CODECS="([^"]+)"/.exec(line)?.[1];
    const uri = line.startsWith('#EXT-X-STREAM-INF') ? lines[i + 1] : /URI="([^"]+)"/.exec(line)?.[1];
    if (codecs && uri) out.set(uri, codecs);
  });
  return out;
}

const attr = (v: string) => `"${v.replace(/"/g, "'")}"`;

/**
 * The HLS master playlist: one variant per video rendition, highest first, with peak BANDWIDTH and
 * AVERAGE-BANDWIDTH (video + audio, measured), RESOLUTION, FRAME-RATE and CODECS, and the audio as its
 * own rendition group. An audio-only plan lists the audio playlist as the one variant.
 */
export function buildHlsMaster(
  plan: Plan,
  measured: MeasuredStream[],
  ffmpegCodecs: Map<string, string>,
): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  const n = plan.renditions.length;
  const audio = plan.audio ? measured[n] : undefined;
  const audioCodec = plan.audio
    ? (ffmpegCodecs
        .get(audio?.playlist ?? '')
        ?.split(',')
        .find((c) => c.startsWith('mp4a')) ?? plan.audio.codecs)
    : null;
  if (n === 0) {
    if (audio && audioCodec) {
      lines.push(
        `#EXT-X-STREAM-INF:BANDWIDTH=${audio.peakBitrate},AVERAGE-BANDWIDTH=${audio.averageBitrate},CODECS=${attr(audioCodec)}`,
      );
      lines.push(audio.playlist);
    }
    return `${lines.join('\n')}\n`;
  }
  if (audio && plan.audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${plan.audio.channels}",URI=${attr(audio.playlist)}`,
    );
  }
  plan.renditions.forEach((r, i) => {
    const m = measured[i];
    if (!m) return;
    const videoCodec =
      ffmpegCodecs
        .get(m.playlist)
        ?.split(',')
        .find((c) => c.startsWith('avc1')) ?? r.codecs;
    const codecs = [videoCodec, audioCodec].filter(Boolean).join(',');
    const peak = m.peakBitrate + (audio?.peakBitrate ?? 0);
    const average = m.averageBitrate + (audio?.averageBitrate ?? 0);
    const parts = [
      `BANDWIDTH=${peak}`,
      `AVERAGE-BANDWIDTH=${average}`,
      `RESOLUTION=${r.width}x${r.height}`,
      `FRAME-RATE=${(plan.frameRate ?? 0).toFixed(3)}`,
      `CODECS=${attr(codecs)}`,
      ...(audio ? ['AUDIO="audio"'] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${parts.join(',')}`, m.playlist);
  });
  return `${lines.join('\n')}\n`;
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (v: number, w = 2) => String(v).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT index of the sprite sheets: one cue per small frame, pointing at its tile (#xywh). */
export function buildSpriteVtt(plan: Plan, sheetName: (sheet: number) => string): string {
  const s = plan.sprites;
  if (!s) return 'WEBVTT\n';
  const perSheet = s.columns * s.rows;
  const end = plan.durationSeconds ?? s.count * s.intervalSeconds;
  const cues = ['WEBVTT', ''];
  for (let i = 0; i < s.count; i++) {
    const start = i * s.intervalSeconds;
    const stop = Math.min(end, (i + 1) * s.intervalSeconds);
    const within = i % perSheet;
    const x = (within % s.columns) * s.width;
    const y = Math.floor(within / s.columns) * s.height;
    cues.push(
      `${vttTime(start)} --> ${vttTime(stop)}`,
      `${sheetName(Math.floor(i / perSheet) + 1)}#xywh=${x},${y},${s.width},${s.height}`,
      '',
    );
  }
  return cues.join('\n');
}
