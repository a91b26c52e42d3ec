// Numbers as a video team reads them: sizes in SI units (MB as on a disk's label), bitrates in
// kbit/s and Mbit/s (as in MediaConvert's and ffmpeg's output), durations as h:mm:ss.

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** Bits per second. */
export function formatBitrate(bps: number | null | undefined): string {
  if (bps === null || bps === undefined || !Number.isFinite(bps)) return '—';
  if (bps < 1000) return `${Math.round(bps)} bit/s`;
  if (bps < 1_000_000) return `${Math.round(bps / 1000)} kbit/s`;
  const m = bps / 1_000_000;
  return `${m >= 100 ? Math.round(m) : m.toFixed(m >= 10 ? 1 : 2)} Mbit/s`;
}

/** A media position or length: m:ss, or h:mm:ss from an hour. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const total = Math.floor(seconds);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600);
  const ss = String(s).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Time left, in words: "45 s", "3 min 5 s", "2 h 10 min". */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const total = Math.round(seconds);
  if (total < 60) return `${total} s`;
  if (total < 3600) {
    const s = total % 60;
    return s ? `${Math.floor(total / 60)} min ${s} s` : `${total / 60} min`;
  }
  const m = Math.floor(total / 60) % 60;
  return m ? `${Math.floor(total / 3600)} h ${m} min` : `${total / 3600} h`;
}

export function formatFps(fps: number | null | undefined): string {
  return fps === null || fps === undefined || !Number.isFinite(fps)
    ? '—'
    : `${fps.toFixed(fps >= 100 ? 0 : 1)} fps`;
}

/** ffmpeg's speed: 2.5x = two and a half seconds of media per second. */
export function formatSpeed(speed: number | null | undefined): string {
  return speed === null || speed === undefined || !Number.isFinite(speed)
    ? '—'
    : `${speed.toFixed(speed >= 10 ? 1 : 2)}×`;
}

export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) return '—';
  return `${Math.min(100, Math.max(0, percent)).toFixed(percent > 0 && percent < 10 ? 1 : 0)}%`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * A timestamp in local time, short: the time of day when it is on `now`'s day, else the date and time
 * (ISO order, unambiguous in every locale). `now` is a parameter so the result does not depend on when.
 */
export function formatTimestamp(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay
    ? time
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`;
}

/** How long from one instant to another (a job's run time). */
export function formatElapsed(fromIso: string | null | undefined, toIso: string | null | undefined): string {
  if (!fromIso || !toIso) return '—';
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return '—';
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : formatEta(ms / 1000);
}

/** The path of one output under the job's files route: its key minus the destination prefix. */
export function outputPath(key: string, prefix: string): string | null {
  const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (!key.startsWith(base)) return null;
  const rest = key.slice(base.length);
  return rest === '' ? null : rest;
}

/** The URL the console fetches an output from (GET /v1/jobs/:id/files/*), each segment encoded once. */
export function outputUrl(jobId: string, key: string, prefix: string): string | null {
  const rest = outputPath(key, prefix);
  if (rest === null) return null;
  return `/v1/jobs/${encodeURIComponent(jobId)}/files/${rest.split('/').map(encodeURIComponent).join('/')}`;
}

/** An upload's key from a file name: each path segment percent-encoded once (PUT /v1/uploads/<key>). */
export function uploadPath(fileName: string): string {
  return fileName.split('/').map(encodeURIComponent).join('/');
}
