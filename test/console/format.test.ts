// The console's formatting of sizes, bitrates, times and output URLs (src/console/format.ts).
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  formatBitrate,
  formatBytes,
  formatDuration,
  formatElapsed,
  formatEta,
  formatPercent,
  formatSpeed,
  formatTimestamp,
  outputPath,
  outputUrl,
  uploadPath,
} from '../../src/console/format.ts';

test('sizes in SI units, bitrates in kbit/s and Mbit/s; unknown values as a dash', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(9442), '9.4 kB');
  assert.equal(formatBytes(126_405), '126 kB');
  assert.equal(formatBytes(53_687_091_200), '53.7 GB');
  assert.equal(formatBytes(null), '—');
  assert.equal(formatBitrate(202_867), '203 kbit/s');
  assert.equal(formatBitrate(5_000_000), '5.00 Mbit/s');
  assert.equal(formatBitrate(12_345_678), '12.3 Mbit/s');
  assert.equal(formatBitrate(800), '800 bit/s');
  assert.equal(formatBitrate(Number.NaN), '—');
});

test('durations as m:ss or h:mm:ss; time left in words; speed and percent', () => {
  assert.equal(formatDuration(3), '0:03');
  assert.equal(formatDuration(62.9), '1:02');
  assert.equal(formatDuration(3723), '1:02:03');
  assert.equal(formatDuration(-1), '—');
  assert.equal(formatEta(45), '45 s');
  assert.equal(formatEta(185), '3 min 5 s');
  assert.equal(formatEta(120), '2 min');
  assert.equal(formatEta(7800), '2 h 10 min');
  assert.equal(formatEta(null), '—');
  assert.equal(formatSpeed(13.72), '13.7×');
  assert.equal(formatSpeed(0.5), '0.50×');
  assert.equal(formatPercent(42.5), '43%');
  assert.equal(formatPercent(2.25), '2.3%');
  assert.equal(formatPercent(140), '100%');
  assert.equal(formatElapsed('2026-12-01T19:39:44.197Z', '2026-12-01T19:39:45.118Z'), '921 ms');
  assert.equal(formatElapsed('2026-12-01T19:39:44Z', '2026-12-01T19:42:49Z'), '3 min 5 s');
});

test('timestamps: the time of day on the same day, the date otherwise (local time)', () => {
  const now = new Date(2026, 11, 1, 20, 0, 0);
  assert.equal(formatTimestamp(new Date(2026, 11, 1, 9, 5, 7).toISOString(), now), '09:05:07');
  assert.equal(formatTimestamp(new Date(2026, 10, 30, 23, 59, 1).toISOString(), now), '2026-11-30 23:59');
  assert.equal(formatTimestamp('not a date', now), '—');
  assert.equal(formatTimestamp(null, now), '—');
});

test("an output's URL under /v1/jobs/<id>/files/: the key minus the prefix, each segment encoded once", () => {
  const prefix = 'lesson 1.mp4/abr-default';
  assert.equal(outputPath('lesson 1.mp4/abr-default/master.m3u8', prefix), 'master.m3u8');
  assert.equal(
    outputUrl('job_1', 'lesson 1.mp4/abr-default/thumbnails/lesson 1#2?.jpg', prefix),
    '/v1/jobs/job_1/files/thumbnails/lesson%201%232%3F.jpg',
  );
  assert.equal(outputPath('other/master.m3u8', prefix), null, 'outside the prefix');
  assert.equal(outputPath('lesson 1.mp4/abr-defaultX/master.m3u8', prefix), null, 'a sibling folder');
  assert.equal(outputPath('lesson 1.mp4/abr-default/', prefix), null);
  assert.equal(outputPath('a/b.mp4', ''), 'a/b.mp4');
  assert.equal(uploadPath('news/clip 1 <b>.mp4'), 'news/clip%201%20%3Cb%3E.mp4');
});
