// Which local files a finished encode publishes, under which keys, in which order. Keys are relative to
// the job's output set (`<input key>/<template>/`). What players fetch through a manifest (media playlists,
// segments, sprite sheets) goes under `v/<version>/`, a folder no other attempt writes; the entry points
// (master.m3u8, manifest.mpd, the MP4, the poster, sprites.vtt) keep stable names at the set's root and
// are rewritten to point into that version. See publish.ts for how a set replaces the one before it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { STREAM_FILES } from '../media/ffmpeg-args.ts';
import { rebaseHlsMaster, rebaseMpd, rebaseSpriteVtt } from '../media/rebase.ts';
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
  /** Relative to the output set. */
  key: string;
  /** Set on the files the job lists as its outputs; segments are summarised instead. */
  type: 'hls' | 'dash' | 'mp4' | 'thumbnail' | 'sprites' | null;
  /** `version`: under `v/<version>/`, written first; `entry`: a stable name, swapped in last. */
  stage: 'version' | 'entry';
  order: number;
}

/** The folder of one attempt's version of a set, relative to the set. */
export function versionFolder(version: string): string {
  return `v/${version}`;
}

async function rebased(file: string, rewrite: (text: string) => string): Promise<string> {
  const out = `${file}.published`;
  await fs.writeFile(out, rewrite(await fs.readFile(file, 'utf8')));
  return out;
}

export async function publishList(
  plan: Plan,
  local: { streamDir: string; mp4: string; thumbnail: string; spriteDir: string; spriteVtt: string | null },
  baseName: string,
  version: string,
): Promise<PublishItem[]> {
  const v = versionFolder(version);
  const items: PublishItem[] = [];
  const versioned = (file: string, key: string, order: number) =>
    items.push({ file, key: `${v}/${key}`, type: null, stage: 'version', order });
  if (plan.hls || plan.dash) {
    for (const name of (await fs.readdir(local.streamDir)).sort()) {
      const file = path.join(local.streamDir, name);
      if (name.endsWith('.m4s')) versioned(file, name, 0);
      else if (name === STREAM_FILES.hlsMaster && plan.hls) {
        const text = await rebased(file, (t) => rebaseHlsMaster(t, `${v}/`));
        items.push({ file: text, key: name, type: 'hls', stage: 'entry', order: 3 });
      } else if (name.endsWith('.m3u8') && plan.hls) versioned(file, name, 1);
      else if (name === STREAM_FILES.mpd && plan.dash) {
        const text = await rebased(file, (t) => rebaseMpd(t, `${v}/`));
        items.push({ file: text, key: name, type: 'dash', stage: 'entry', order: 3 });
      }
    }
  }
  if (plan.mp4)
    items.push({ file: local.mp4, key: `${baseName}.mp4`, type: 'mp4', stage: 'entry', order: 1 });
  if (plan.thumbnail) {
    items.push({
      file: local.thumbnail,
      key: `thumbnails/${baseName}.jpg`,
      type: 'thumbnail',
      stage: 'entry',
      order: 1,
    });
  }
  if (plan.sprites) {
    for (const name of (await fs.readdir(local.spriteDir)).sort()) {
      versioned(path.join(local.spriteDir, name), `sprites/${name}`, 1);
    }
    if (local.spriteVtt) {
      // sprites.vtt sits in thumbnails/: its sheets are one folder up, in the version.
      const text = await rebased(local.spriteVtt, (t) => rebaseSpriteVtt(t, `../${v}/`));
      items.push({ file: text, key: `thumbnails/${SPRITE_VTT}`, type: 'sprites', stage: 'entry', order: 2 });
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
