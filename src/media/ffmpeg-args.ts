// ffmpeg argument building, pure: a Plan and local paths -> one argument array for one ffmpeg process.
// One decode feeds every rendition through `split`; the encoded streams go through the tee muxer to the
// DASH muxer (CMAF segments + MPD + HLS playlists over the same segments) and to the MP4, so the top
// rendition and the audio are encoded once and used twice. The sprites' small frames are one more
// branch of the same decode; the poster is read through a second, seeking input.
//
// Every image output starts at once, which is what keeps `-progress` live: ffmpeg 5.x prints no report
// until every output file has written its header, and an output writes its header on its first frame.
// A `tile` sheet's first frame comes once 100 small frames are in (200 s of media at the defaults), a
// `trim`med poster's once the decode reaches the poster time: either held the report back to the end
// of any ordinary clip. So the small frames are written one by one and tiled into sheets afterwards
// (buildSpriteSheetArgs, a pass over a few KB per frame), and the poster input seeks to its time and
// yields its one frame first thing.
import path from 'node:path';
import type { Plan } from '../templates/ladder.ts';
import { filterThreadArgs, threadArgs } from './ffmpeg-threads.ts';
import { inputRestrictions } from './input-policy.ts';

export interface TranscodePaths {
  input: string;
  /** Folder for the MPD, HLS playlists and CMAF segments. */
  streamDir: string;
  mp4: string;
  thumbnail: string;
  /** Folder for sprite sheets (sprite-001.jpg, ...). */
  spriteDir: string;
}

export const STREAM_FILES = {
  mpd: 'manifest.mpd',
  hlsMaster: 'master.m3u8',
  /** Segment templates shared by HLS and DASH. */
  init: 'init-$RepresentationID$.m4s',
  media: 'chunk-$RepresentationID$-$Number%05d$.m4s',
} as const;

export const SPRITE_PATTERN = 'sprite-%03d.jpg';
/** The small frames, in a folder of their own under the sprite folder, removed once tiled. */
export const SPRITE_FRAMES_DIR = 'frames';
const SPRITE_FRAME_PATTERN = 'frame-%05d.jpg';

/**
 * JPEGs from full-range yuv420p flagged as full range. The yuvj420p formats the mjpeg encoder asks for by
 * default make swscale print "deprecated pixel format used" once per thread into every job's stderr
 * tail; yuv420p with the range flag is the same JPEG, which mjpeg takes below strict compliance.
 */
export const FULL_RANGE_JPEG = ['-strict', '-1', '-pix_fmt', 'yuv420p', '-color_range', 'pc'];

/** setsar rounds ratios to terms of at most 100 unless told otherwise; 640/639 must stay exact. */
export const SAR_MAX = 1_000_000;

/**
 * PQ/HLG to SDR BT.709: linearise, map primaries, tone-map (Hable keeps highlights), back to BT.709.
 * Without it HDR sources play washed out on every SDR screen and in browsers' H.264 path.
 */
export const TONE_MAP =
  'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p';

/** How much of the input the poster's seeking input reads: its frame is the first one decoded there. */
export const POSTER_READ_SECONDS = 5;

/** Escapes a value for the tee muxer's `[opt=value:...]path|...` syntax. */
export function teeEscape(value: string): string {
  return value.replace(/[\\:|[\]=,']/g, (c) => `\\${c}`);
}

export const AUDIO_RATE = 48_000;
const AAC_FRAME = 1024;

/**
 * AAC codes whole 1024-sample frames, so the last frame pads the audio past the presentation (4 s at
 * 48 kHz is 187.5 frames: the track ends at 4.0107 s). dash.js ends playback once currentTime reaches
 * the MPD's duration; a track still running past it makes dash.js pause the element and seek back
 * (the unrequested pause at 3.5 s of a 4 s clip). Cutting the audio to the last whole frame within the
 * presentation keeps every track inside it, at the cost of under one frame (21 ms) of sound.
 */
export function audioEndSample(durationSeconds: number | null): number | null {
  if (!durationSeconds || durationSeconds <= 0) return null;
  return Math.max(AAC_FRAME, Math.floor((durationSeconds * AUDIO_RATE) / AAC_FRAME) * AAC_FRAME);
}

export function kbps(n: number): string {
  return `${n}k`;
}

function videoFilters(plan: Plan): string {
  const n = plan.renditions.length;
  const extra = plan.sprites ? 1 : 0;
  const branches = n + extra;
  const pre: string[] = [];
  if (plan.toneMap) pre.push(TONE_MAP);
  if (plan.changeFrameRate && plan.frameRate) pre.push(`fps=${plan.frameRate}`);
  // Hold the last frame to the end of the audio, in whole frames rounded up (so no track outlasts the
  // video, whose end the DASH muxer takes as the presentation's), before the split: every rendition,
  // the MP4 and the sprites then cover the whole input.
  const hold = plan.holdLastFrameSeconds ?? 0;
  if (hold > 0 && plan.frameRate) {
    pre.push(`tpad=stop_mode=clone:stop=${Math.ceil(hold * plan.frameRate - 1e-6)}`);
  }
  const head = pre.length > 0 ? `${pre.join(',')},` : '';
  const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`).join('');
  const filters = [`[0:v:0]${head}split=${branches}${labels}`];
  plan.renditions.forEach((r, i) => {
    filters.push(
      `[s${i}]scale=${r.width}:${r.height}:flags=bicubic,setsar=sar=${r.sar}:max=${SAR_MAX},format=yuv420p[v${i}]`,
    );
  });
  if (plan.sprites) {
    const s = plan.sprites;
    filters.push(
      `[s${n}]fps=1/${s.intervalSeconds},scale=${s.width}:${s.height}:out_range=full,setsar=1,format=yuv420p[sp]`,
    );
  }
  return filters.join(';');
}

/** The poster's filters on the second input, which starts at the poster time. */
export function posterFilters(plan: Plan, t: NonNullable<Plan['thumbnail']>): string {
  const pre = plan.toneMap ? `${TONE_MAP},` : '';
  return `${pre}scale=${t.width}:${t.height}:out_range=full,setsar=1,format=yuv420p`;
}

/** `threads`: ffmpeg's threads for decoding, filtering and each output (ffmpeg-threads.ts); null: its own choice. */
export function buildTranscodeArgs(
  plan: Plan,
  paths: TranscodePaths,
  threads: number | null = null,
): string[] {
  const hasVideo = plan.renditions.length > 0;
  const args = [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'level+warning',
    '-progress',
    'pipe:1',
    '-nostats',
    ...filterThreadArgs(threads),
  ];
  args.push(...inputRestrictions(), ...threadArgs(threads), '-i', paths.input);
  // Input 1, the poster's: the same file, seeking to the poster time (accurate seek, on the timeline the
  // filters see). Only its first frame is used; ffmpeg reads no more of it once the poster is out.
  if (plan.thumbnail) {
    // Read for POSTER_READ_SECONDS at most: ffmpeg 5.1 keeps decoding an input whose only output has its
    // one frame, which decoded the rest of the video a second time beside the encode.
    args.push(...inputRestrictions(), ...threadArgs(threads), '-ss', String(plan.thumbnail.atSeconds));
    args.push('-t', String(POSTER_READ_SECONDS), '-i', paths.input);
  }
  if (hasVideo) args.push('-filter_complex', videoFilters(plan));

  plan.renditions.forEach((r, i) => {
    args.push('-map', `[v${i}]`);
    args.push(`-b:v:${i}`, kbps(r.videoBitrateKbps), `-maxrate:v:${i}`, kbps(r.maxrateKbps));
    args.push(`-bufsize:v:${i}`, kbps(r.bufsizeKbps));
  });
  if (hasVideo) {
    // Keyframes at every segment boundary in every rendition, and nowhere the encoder alone would choose
    // (scene cuts), so all renditions cut segments at the same instants and players switch cleanly.
    args.push('-c:v', 'libx264', '-preset', plan.preset, '-profile:v', 'high');
    args.push('-force_key_frames', `expr:gte(t,n_forced*${plan.segmentSeconds})`, '-sc_threshold', '0');
  }
  if (plan.audio) {
    args.push('-map', '0:a:0', '-c:a', 'aac', '-b:a', kbps(plan.audio.bitrateKbps));
    args.push('-ac', String(plan.audio.channels), '-ar', String(AUDIO_RATE));
    const trim = audioEndSample(plan.durationSeconds);
    if (trim !== null) args.push('-af', `aresample=${AUDIO_RATE},atrim=end_sample=${trim}`);
  }
  // The tee muxer cannot tell encoders that MP4/CMAF want codec headers out of band; ask for them.
  args.push('-flags', '+global_header');

  const slaves: string[] = [];
  if (plan.hls || plan.dash) {
    const sets = [hasVideo ? 'streams=v' : null, plan.audio ? 'streams=a' : null]
      .filter((x) => x !== null)
      .map((x, i) => `id=${i},${x}`)
      .join(' ');
    const opts = [
      'f=dash',
      'onfail=abort',
      `seg_duration=${plan.segmentSeconds}`,
      'use_template=1',
      'use_timeline=0',
      `hls_playlist=${plan.hls ? 1 : 0}`,
      `adaptation_sets=${sets}`,
      `init_seg_name=${STREAM_FILES.init}`,
      `media_seg_name=${STREAM_FILES.media}`,
    ];
    slaves.push(
      `[${opts.map(teeOption).join(':')}]${teeEscape(path.join(paths.streamDir, STREAM_FILES.mpd))}`,
    );
  }
  if (plan.mp4 && hasVideo) {
    const select = plan.audio ? 'v:0,a' : 'v:0';
    // Quoted: inside a tee slave's option list, `:` and `,` of a stream specifier would split it.
    slaves.push(`[f=mp4:movflags=+faststart:onfail=abort:select=\\'${select}\\']${teeEscape(paths.mp4)}`);
  }
  args.push(...threadArgs(threads), '-f', 'tee', slaves.join('|'));

  args.push(
    ...imageOutputArgs(plan, {
      thumbnail: paths.thumbnail,
      spriteFrames: spriteFramePattern(paths),
      threads,
    }),
  );
  return args;
}

/**
 * The image outputs of the encode: the poster from input 1 (seeking to its time) and the sprites' small
 * frames from the `[sp]` branch, one JPEG each. The single pass and the chunked audio part both end so.
 */
export function imageOutputArgs(
  plan: Plan,
  o: { thumbnail: string; spriteFrames: string; threads: number | null | undefined },
): string[] {
  const args: string[] = [];
  if (plan.thumbnail) {
    args.push('-map', '1:v:0', '-vf', posterFilters(plan, plan.thumbnail));
    args.push('-frames:v', '1', '-update', '1', '-q:v', '3', ...FULL_RANGE_JPEG, ...threadArgs(o.threads));
    args.push(o.thumbnail);
  }
  if (plan.sprites) {
    // Near-lossless: they are decoded once more and coded into the sheets at the sheets' quality.
    args.push('-map', '[sp]', '-q:v', '2', ...FULL_RANGE_JPEG, '-start_number', '1');
    args.push(...threadArgs(o.threads), o.spriteFrames);
  }
  return args;
}

function spriteFramePattern(paths: TranscodePaths): string {
  return path.join(paths.spriteDir, SPRITE_FRAMES_DIR, SPRITE_FRAME_PATTERN);
}

/** After the encode: the small frames, in order, onto sheets of columns x rows (the last one padded). */
export function buildSpriteSheetArgs(sprites: NonNullable<Plan['sprites']>, paths: TranscodePaths): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-loglevel',
    'level+warning',
    '-f',
    'image2',
    '-start_number',
    '1',
    '-framerate',
    '1',
    '-i',
    spriteFramePattern(paths),
    '-vf',
    `tile=${sprites.columns}x${sprites.rows}`,
    '-q:v',
    '5',
    '-start_number',
    '1',
    path.join(paths.spriteDir, SPRITE_PATTERN),
  ];
}

export function teeOption(opt: string): string {
  const eq = opt.indexOf('=');
  return `${opt.slice(0, eq)}=${teeEscape(opt.slice(eq + 1))}`;
}
