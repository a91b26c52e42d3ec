// An input's inspection before any encode: size, a confined probe, then the allowlist and limits.
import fs from 'node:fs/promises';
import { checkProbe, checkSize, type InputLimits } from '../media/input-policy.ts';
import type { MediaInfo } from '../media/media-info.ts';
import { probe } from '../media/probe.ts';

/** Probes `file` (reporting what it found through `onProbed` even when it is then refused). */
export async function inspectInput(
  file: string,
  limits: InputLimits,
  onProbed: (media: MediaInfo) => Promise<void> = async () => {},
): Promise<MediaInfo> {
  checkSize((await fs.stat(file)).size, limits);
  const media = await probe(file);
  await onProbed(media);
  checkProbe(media, limits);
  return media;
}
