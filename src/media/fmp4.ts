// ISO-BMFF (ISO/IEC 14496-12) box reading and writing for fragmented MP4, pure over Buffers: split a file
// into its init (ftyp+moov) and fragments (moof+mdat, with any styp/sidx before them), read what a
// fragment holds (mfhd sequence, tfdt, sample count and summed durations, first-sample keyframe flag) and
// rewrite its tfdt and sequence number. Chunked encoding (issue 13) re-cuts each chunk's fragments into
// the job's segments with these, so a chunk's segments join the ones before it on one timeline.
import { SluiceError } from '../errors.ts';

export interface Box {
  type: string;
  /** Offset of the box's first byte (its size field) and of its payload, and its end, in the buffer. */
  start: number;
  body: number;
  end: number;
}

function bad(message: string): never {
  throw new SluiceError('CHUNK_DISCONTINUITY', `not a fragmented MP4 this encode wrote: ${message}`);
}

/** The boxes directly inside `buf[from, to)`. */
export function readBoxes(buf: Buffer, from = 0, to = buf.length): Box[] {
  const boxes: Box[] = [];
  let at = from;
  while (at < to) {
    if (to - at < 8) bad(`${to - at} stray bytes at offset ${at}`);
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      if (to - at < 16) bad(`truncated large box ${type}`);
      size = Number(buf.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) size = to - at;
    if (size < body - at || at + size > to) bad(`box ${type} at ${at} runs past its parent`);
    boxes.push({ type, start: at, body, end: at + size });
    at += size;
  }
  return boxes;
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  return readBoxes(buf, parent.body, parent.end).find((b) => b.type === type);
}

function children(buf: Buffer, parent: Box, type: string): Box[] {
  return readBoxes(buf, parent.body, parent.end).filter((b) => b.type === type);
}

export interface Fragment {
  /** Offsets in the file it came from: [start, end) covers styp/sidx (if any), moof and mdat. */
  start: number;
  end: number;
  /** Offset of the moof box, within [start, end). */
  moof: number;
}

export interface SplitFile {
  /** Everything before the first fragment: ftyp + moov (and any free boxes). */
  init: Buffer;
  fragments: Fragment[];
}

/** Cuts a fragmented MP4 into its init and its fragments (a trailing mfra is dropped). */
export function splitFragmented(buf: Buffer): SplitFile {
  const boxes = readBoxes(buf);
  const first = boxes.findIndex((b) => b.type === 'moof' || b.type === 'styp' || b.type === 'sidx');
  if (first < 0 || !boxes.slice(0, first).some((b) => b.type === 'moov')) bad('no moov before the fragments');
  const init = buf.subarray(0, (boxes[first] as Box).start);
  const fragments: Fragment[] = [];
  let start: number | null = null;
  let moof: number | null = null;
  for (const b of boxes.slice(first)) {
    if (b.type === 'styp' || b.type === 'sidx') {
      if (moof !== null) bad(`${b.type} inside a fragment`);
      start ??= b.start;
    } else if (b.type === 'moof') {
      if (moof !== null) bad('moof without its mdat');
      start ??= b.start;
      moof = b.start;
    } else if (b.type === 'mdat') {
      if (moof === null || start === null) bad('mdat without a moof');
      fragments.push({ start, end: b.end, moof });
      start = null;
      moof = null;
    } else if (b.type === 'mfra' || b.type === 'free' || b.type === 'skip') {
      // The random access index at the end, and padding: not media.
    } else bad(`unexpected box ${b.type} between fragments`);
  }
  if (moof !== null) bad('last moof has no mdat');
  return { init: Buffer.from(init), fragments };
}

export interface TrackDefaults {
  trackId: number;
  timescale: number;
  duration: number;
  size: number;
  flags: number;
}

/** Per track of the init: its timescale (mdhd) and trex defaults (moov/mvex/trex). */
export function trackDefaults(init: Buffer): TrackDefaults[] {
  const moov = readBoxes(init).find((b) => b.type === 'moov');
  if (!moov) bad('no moov');
  const trex = new Map<number, { duration: number; size: number; flags: number }>();
  const mvex = child(init, moov, 'mvex');
  for (const t of mvex ? children(init, mvex, 'trex') : []) {
    const p = t.body + 4;
    trex.set(init.readUInt32BE(p), {
      duration: init.readUInt32BE(p + 8),
      size: init.readUInt32BE(p + 12),
      flags: init.readUInt32BE(p + 16),
    });
  }
  return children(init, moov, 'trak').map((trak) => {
    const tkhd = child(init, trak, 'tkhd');
    const mdia = child(init, trak, 'mdia');
    const mdhd = mdia && child(init, mdia, 'mdhd');
    if (!tkhd || !mdhd) bad('trak without tkhd or mdhd');
    const trackId = init.readUInt32BE(tkhd.body + (init[tkhd.body] === 1 ? 20 : 12));
    const timescale = init.readUInt32BE(mdhd.body + (init[mdhd.body] === 1 ? 20 : 12));
    return { trackId, timescale, ...(trex.get(trackId) ?? { duration: 0, size: 0, flags: 0 }) };
  });
}

export interface FragmentInfo {
  sequence: number;
  trackId: number;
  /** baseMediaDecodeTime, in the track's timescale. */
  tfdt: number;
  samples: number;
  /** Sum of the samples' durations, in the track's timescale. */
  duration: number;
  /** The first sample is a sync sample (a keyframe: the fragment can start a segment). */
  keyframe: boolean;
}

const NON_SYNC = 0x10000;

interface TrafLayout {
  traf: Box;
  tfhd: Box;
  tfdt: Box | undefined;
  truns: Box[];
}

function layout(buf: Buffer, moofAt: number): { moof: Box; mfhd: Box; trafs: TrafLayout[] } {
  const size = moofAt + 8 <= buf.length ? buf.readUInt32BE(moofAt) : 0;
  const [moof] = size >= 8 ? readBoxes(buf, moofAt, Math.min(buf.length, moofAt + size)) : [];
  if (moof?.type !== 'moof') bad(`no moof at ${moofAt}`);
  const mfhd = child(buf, moof, 'mfhd');
  if (!mfhd) bad('moof without mfhd');
  const trafs = children(buf, moof, 'traf').map((traf) => {
    const tfhd = child(buf, traf, 'tfhd');
    if (!tfhd) bad('traf without tfhd');
    return { traf, tfhd, tfdt: child(buf, traf, 'tfdt'), truns: children(buf, traf, 'trun') };
  });
  if (trafs.length !== 1) bad(`a fragment with ${trafs.length} tracks (one track per file expected)`);
  return { moof, mfhd, trafs };
}

/** What one fragment (its moof at `moofAt` in `buf`) holds; `defaults` from the file's init. */
export function fragmentInfo(buf: Buffer, moofAt: number, defaults: readonly TrackDefaults[]): FragmentInfo {
  const { mfhd, trafs } = layout(buf, moofAt);
  const { tfhd, tfdt, truns } = trafs[0] as TrafLayout;
  const tfFlags = buf.readUInt32BE(tfhd.body) & 0xffffff;
  const trackId = buf.readUInt32BE(tfhd.body + 4);
  const d = defaults.find((x) => x.trackId === trackId);
  let p = tfhd.body + 8;
  if (tfFlags & 0x1) p += 8;
  if (tfFlags & 0x2) p += 4;
  const defDuration = tfFlags & 0x8 ? buf.readUInt32BE(p) : (d?.duration ?? 0);
  if (tfFlags & 0x8) p += 4;
  if (tfFlags & 0x10) p += 4;
  const defFlags = tfFlags & 0x20 ? buf.readUInt32BE(p) : (d?.flags ?? 0);
  let tfdtValue = 0;
  if (tfdt) {
    tfdtValue =
      buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4);
  }
  let samples = 0;
  let duration = 0;
  let firstFlags: number | null = null;
  for (const trun of truns) {
    const flags = buf.readUInt32BE(trun.body) & 0xffffff;
    const count = buf.readUInt32BE(trun.body + 4);
    let q = trun.body + 8;
    if (flags & 0x1) q += 4;
    let first: number | null = null;
    if (flags & 0x4) {
      first = buf.readUInt32BE(q);
      q += 4;
    }
    const per = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
    if (q + per * count > trun.end) bad('trun shorter than its sample count');
    for (let i = 0; i < count; i++) {
      let r = q + i * per;
      const dur = flags & 0x100 ? buf.readUInt32BE(r) : defDuration;
      if (flags & 0x100) r += 4;
      if (flags & 0x200) r += 4;
      const sampleFlags = flags & 0x400 ? buf.readUInt32BE(r) : i === 0 && first !== null ? first : defFlags;
      if (firstFlags === null) firstFlags = i === 0 && first !== null ? first : sampleFlags;
      duration += dur;
    }
    samples += count;
  }
  return {
    sequence: buf.readUInt32BE(mfhd.body + 4),
    trackId,
    tfdt: tfdtValue,
    samples,
    duration,
    keyframe: firstFlags !== null && (firstFlags & NON_SYNC) === 0,
  };
}

/**
 * A copy of one fragment (`buf[f.start, f.end)`) with its mfhd sequence number and tfdt replaced. A tfdt
 * past 32 bits is written as version 1 (64-bit); the moof, traf and trun data offsets grow with it.
 * Sample data offsets must be moof-relative (ffmpeg's `default_base_moof`), which moving a fragment keeps.
 */
export function rewriteFragment(buf: Buffer, f: Fragment, sequence: number, tfdtValue: number): Buffer {
  if (!Number.isSafeInteger(tfdtValue) || tfdtValue < 0) bad(`tfdt ${tfdtValue} is not a whole number`);
  const { moof, mfhd, trafs } = layout(buf, f.moof);
  const { traf, tfhd, tfdt, truns } = trafs[0] as TrafLayout;
  if (!tfdt) bad('traf without tfdt');
  if (buf.readUInt32BE(tfhd.body) & 0x1) bad('absolute base data offset (write with default_base_moof)');
  const wasV1 = buf[tfdt.body] === 1;
  const needV1 = wasV1 || tfdtValue > 0xffffffff;
  const grow = needV1 && !wasV1 ? 4 : 0;
  const out = Buffer.alloc(f.end - f.start + grow);
  // Copy up to the tfdt's payload value, then the new value, then the rest.
  const rel = (at: number) => at - f.start;
  const valueAt = tfdt.body + 4;
  buf.copy(out, 0, f.start, valueAt);
  const oldValueEnd = valueAt + (wasV1 ? 8 : 4);
  if (needV1) out.writeBigUInt64BE(BigInt(tfdtValue), rel(valueAt));
  else out.writeUInt32BE(tfdtValue, rel(valueAt));
  buf.copy(out, rel(valueAt) + (needV1 ? 8 : 4), oldValueEnd, f.end);
  out.writeUInt32BE(sequence, rel(mfhd.body + 4));
  if (grow > 0) {
    out[rel(tfdt.body)] = 1;
    for (const b of [moof, traf, tfdt]) {
      if (buf.readUInt32BE(b.start) === 1) bad(`large-size ${b.type}`);
      out.writeUInt32BE(buf.readUInt32BE(b.start) + grow, rel(b.start));
    }
    for (const trun of truns) {
      // Boxes after the tfdt moved by `grow`; data offsets (from the moof's start) grow by it too.
      const at = trun.start > tfdt.start ? rel(trun.body) + grow : rel(trun.body);
      if (out.readUInt32BE(at) & 0x1) out.writeInt32BE(out.readInt32BE(at + 8) + grow, at + 8);
    }
  }
  return out;
}
