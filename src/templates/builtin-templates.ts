// Built-in templates. `abr-default` is seed 001's ladder: 1080p 5 Mbit/s, 720p 3 Mbit/s, 360p 1 Mbit/s.
import { SluiceError } from '../errors.ts';
import { parseTemplate, type Template } from './template.ts';

const SEED_LADDER = [
  { name: '1080p', height: 1080, videoBitrateKbps: 5000 },
  { name: '720p', height: 720, videoBitrateKbps: 3000 },
  { name: '360p', height: 360, videoBitrateKbps: 1000 },
];

const BUILTINS: Record<string, unknown> = {
  'abr-default': {
    name: 'abr-default',
    description: 'HLS + DASH ladder 1080p/720p/360p over shared CMAF segments, an MP4, a poster and sprites',
    ladder: SEED_LADDER,
    sprites: { enabled: true },
  },
  'mp4-h264-aac': {
    name: 'mp4-h264-aac',
    description: 'One MP4, H.264 + AAC, moov first, at the source size up to 1080p (seed 000)',
    ladder: [SEED_LADDER[0]],
    packaging: { hls: false, dash: false },
  },
  'hls-720p': {
    name: 'hls-720p',
    description: 'One 720p 3 Mbit/s HLS rendition (seed 003)',
    ladder: [SEED_LADDER[1]],
    packaging: { hls: true, dash: false },
    mp4: { enabled: false },
  },
  'hls-1080p': {
    name: 'hls-1080p',
    description: 'One 1080p 5 Mbit/s HLS rendition (seed 003)',
    ladder: [SEED_LADDER[0]],
    packaging: { hls: true, dash: false },
    mp4: { enabled: false },
  },
  'audio-only': {
    name: 'audio-only',
    description: 'AAC stereo 128 kbit/s as HLS + DASH, no video',
    ladder: [],
    mp4: { enabled: false },
    thumbnail: { enabled: false },
  },
};

export const DEFAULT_TEMPLATE = 'abr-default';

export function builtinTemplateNames(): string[] {
  return Object.keys(BUILTINS);
}

export function getBuiltinTemplate(name: string): Template {
  const raw = BUILTINS[name];
  if (raw === undefined) {
    throw new SluiceError(
      'TEMPLATE_NOT_FOUND',
      `no template named "${name}"; built-in templates: ${builtinTemplateNames().join(', ')}`,
    );
  }
  return parseTemplate(raw, `built-in template ${name}`);
}
