// Which local files a finished encode publishes, under which keys, in which order: segments first,
// manifests last, so a reader never finds a manifest pointing at segments that are not there yet.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { STREAM_FILES } from '../media/ffmpeg-args.ts';
import type { Plan } from '../templates/ladder.ts';
import { SPRITE_VTT } from './finish-packaging.ts';

/**
 * ffmpeg exited cleanly without an output the plan asked for: the same input and template would do
 * the same on every attempt (a poster time with no frame, a stream with no decodable picture), so this
 * is the input's verdict, not a transient failure. A crash or a kill fails ffmpeg's run before this.
 */
function missing(what: string): never {
  throw new SluiceError(
    'INPUT_NO_OUTPUT',
    `ffmpeg read the input to the end but did not produce ${what} from it; retrying would do the same. See the job's stderr tail for what ffmpeg found in the input`,
  );
}

export interface PublishItem {
  file: string;
  key: string;
  /** Set on the files the job lists as its outputs; segments are summarised instead. */
  type: 'hls' | 'dash' | 'mp4' | 'thumbnail' | 'sprites' | null;
  order: number;
}

export async function publishList(
  plan: Plan,
  local: { streamDir: string; mp4: string; thumbnail: string; spriteDir: string; spriteVtt: string | null },
  prefix: string,
  baseName: string,
): Promise<PublishItem[]> {
  const items: PublishItem[] = [];
  if (plan.hls || plan.dash) {
    for (const name of (await fs.readdir(local.streamDir)).sort()) {
      const file = path.join(local.streamDir, name);
      const key = `${prefix}/${name}`;
      if (name.endsWith('.m4s')) items.push({ file, key, type: null, order: 0 });
      else if (name === STREAM_FILES.hlsMaster && plan.hls) items.push({ file, key, type: 'hls', order: 3 });
      else if (name.endsWith('.m3u8') && plan.hls) items.push({ file, key, type: null, order: 2 });
      else if (name === STREAM_FILES.mpd && plan.dash) items.push({ file, key, type: 'dash', order: 3 });
    }
  }
  if (plan.mp4) items.push({ file: local.mp4, key: `${prefix}/${baseName}.mp4`, type: 'mp4', order: 1 });
  if (plan.thumbnail) {
    items.push({
      file: local.thumbnail,
      key: `${prefix}/thumbnails/${baseName}.jpg`,
      type: 'thumbnail',
      order: 1,
    });
  }
  if (plan.sprites) {
    for (const name of (await fs.readdir(local.spriteDir)).sort()) {
      items.push({
        file: path.join(local.spriteDir, name),
        key: `${prefix}/thumbnails/sprites/${name}`,
        type: null,
        order: 1,
      });
    }
    if (local.spriteVtt) {
      items.push({
        file: local.spriteVtt,
        key: `${prefix}/thumbnails/${SPRITE_VTT}`,
        type: 'sprites',
        order: 2,
      });
    }
  }
  const expected = items.filter((i) => i.type !== null).map((i) => i.type);
  if (plan.hls && !expected.includes('hls')) missing('the HLS master playlist');
  if (plan.dash && !expected.includes('dash')) missing('the DASH manifest');
  for (const item of items) {
    const st = await fs.stat(item.file).catch(() => null);
    if (!st?.isFile() || st.size === 0) missing(path.basename(item.key));
  }
  return items.sort((a, b) => a.order - b.order || a.key.localeCompare(b.key));
}
