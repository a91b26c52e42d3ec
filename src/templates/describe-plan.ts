// A plan in words, for `sluice plan` and anyone reading a dry run.
import type { MediaInfo } from '../media/media-info.ts';
import type { Plan } from './ladder.ts';

export function describeMedia(m: MediaInfo): string {
  const v = m.video;
  const a = m.audio;
  const parts = [`${m.container}, ${m.durationSeconds?.toFixed(2) ?? '?'} s`];
  if (v) {
    const shown =
      v.displayWidth !== v.width || v.displayHeight !== v.height
        ? ` shown ${v.displayWidth}x${v.displayHeight}`
        : '';
    const rot = v.rotation ? `, rotated ${v.rotation}°` : '';
    const fps = `${v.frameRate ?? '?'} fps${v.variableFrameRate ? ' (variable)' : ''}`;
    const color = `${v.pixelFormat ?? '?'}${v.bitDepth > 8 ? ` ${v.bitDepth}-bit` : ''}${v.hdr ? ` HDR (${v.colorTransfer})` : ''}`;
    parts.push(`video ${v.codec} ${v.width}x${v.height}${shown}${rot}, ${fps}, ${color}`);
  } else parts.push('no video');
  parts.push(
    a ? `audio ${a.codec} ${a.channels} ch${a.channelLayout ? ` (${a.channelLayout})` : ''}` : 'no audio',
  );
  return parts.join('; ');
}

export function describePlan(plan: Plan): string {
  const lines: string[] = [];
  if (plan.renditions.length > 0) {
    const fps = `${plan.frameRate} fps${plan.changeFrameRate ? ' (constant, converted)' : ''}`;
    lines.push(
      `video renditions (H.264 High, ${plan.preset}, ${fps}${plan.toneMap ? ', HDR tone-mapped to SDR BT.709' : ''}):`,
    );
    for (const r of plan.renditions) {
      const size = `${r.width}x${r.height}`.padStart(9);
      const sar = r.sar === '1/1' ? '' : `  SAR ${r.sar}`;
      lines.push(
        `  ${r.name.padEnd(6)} ${size}  ${String(r.videoBitrateKbps).padStart(5)} kbit/s (peak ${r.maxrateKbps})  ${r.codecs}${sar}`,
      );
    }
    if (plan.holdLastFrameSeconds) {
      lines.push(`  the video's last frame is held ${plan.holdLastFrameSeconds} s, to the end of the audio`);
    }
  } else lines.push('video: none (audio only)');
  lines.push(
    plan.audio
      ? `audio: AAC-LC ${plan.audio.channels} ch, ${plan.audio.bitrateKbps} kbit/s (${plan.audio.codecs})`
      : 'audio: none',
  );
  const packages = [plan.hls ? 'HLS' : null, plan.dash ? 'DASH' : null].filter(Boolean).join(' + ');
  if (packages)
    lines.push(`packaging: ${packages} over shared ${plan.segmentSeconds} s CMAF (fMP4) segments`);
  if (plan.mp4) lines.push(`mp4: top rendition${plan.audio ? ' + audio' : ''}, moov first (faststart)`);
  if (plan.thumbnail)
    lines.push(
      `poster: ${plan.thumbnail.width}x${plan.thumbnail.height} JPEG at ${plan.thumbnail.atSeconds} s`,
    );
  if (plan.sprites) {
    const s = plan.sprites;
    lines.push(
      `sprites: ${s.width}x${s.height} every ${s.intervalSeconds} s, ${s.count} frames on ${s.sheets} sheet(s) of ${s.columns}x${s.rows}, WebVTT index`,
    );
  }
  for (const s of plan.skipped ?? []) lines.push(`left out: ${s.part} (${s.reason})`);
  return lines.join('\n');
}
