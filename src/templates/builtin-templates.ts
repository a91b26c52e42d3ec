// Built-in templates. `abr-default` is seed 001's ladder: 1080p 5 Mbit/s, 720p 3 Mbit/s, 360p 1 Mbit/s.
import { SluiceError } from '../errors.ts';
import { parseTemplate, type Template } from './template.ts';

const BUILTINS: Record<string, unknown> = {
  'abr-default': {
    name: 'abr-default',
    description: 'HLS + DASH ladder 1080p/720p/360p over shared CMAF segments, an MP4 and a poster JPEG',
    ladder: [
      { name: '1080p', height: 1080, videoBitrateKbps: 5000 },
      { name: '720p', height: 720, videoBitrateKbps: 3000 },
      { name: '360p', height: 360, videoBitrateKbps: 1000 },
    ],
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
