// Packaging after the encode, pure: measured bitrates, Sluice's HLS master, the sprites' WebVTT index.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildHlsMaster,
  buildSpriteVtt,
  codecsFromFfmpegMaster,
  foldLastSegment,
  measureStream,
  parseMediaPlaylist,
  tinyTail,
} from '../../src/media/packaging.ts';
import type { Plan } from '../../src/templates/ladder.ts';

const plan: Plan = {
  renditions: [
    {
      name: '720p',
      width: 1280,
      height: 720,
      sar: '1/1',
      videoBitrateKbps: 3000,
      maxrateKbps: 3600,
      bufsizeKbps: 7200,
      codecs: 'avc1.64001f',
    },
    {
      name: '240p',
      width: 426,
      height: 240,
      sar: '640/639',
      videoBitrateKbps: 400,
      maxrateKbps: 480,
      bufsizeKbps: 960,
      codecs: 'avc1.640015',
    },
  ],
  audio: { bitrateKbps: 128, channels: 2, codecs: 'mp4a.40.2' },
  frameRate: 25,
  changeFrameRate: false,
  toneMap: false,
  segmentSeconds: 2,
  durationSeconds: 5,
  thumbnail: null,
  sprites: { intervalSeconds: 1, width: 160, height: 90, columns: 2, rows: 2, count: 5, sheets: 2 },
  hls: true,
  dash: true,
  mp4: false,
  preset: 'veryfast',
};

const playlist = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init-0.m4s"
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T15:21:42.000+0000
chunk-0-00001.m4s
#EXTINF:2.000000,
chunk-0-00002.m4s
#EXTINF:1.000000,
chunk-0-00003.m4s
#EXT-X-ENDLIST
`;

test('media playlists parse into segments with durations, in order', () => {
  const parsed = parseMediaPlaylist(playlist);
  assert.deepEqual(parsed.segments, [
    { uri: 'chunk-0-00001.m4s', duration: 2 },
    { uri: 'chunk-0-00002.m4s', duration: 2 },
    { uri: 'chunk-0-00003.m4s', duration: 1 },
  ]);
});

test('measured bitrate: average over the stream, peak over its worst segment', () => {
  const m = measureStream('media_0.m3u8', parseMediaPlaylist(playlist), [500_000, 250_000, 250_000], 1000);
  assert.equal(m.durationSeconds, 5);
  assert.equal(m.segments, 3);
  assert.equal(m.bytes, 1_001_000, 'init segment counted in the size');
  assert.equal(m.averageBitrate, 1_600_000, '1,000,000 bytes * 8 / 5 s');
  assert.equal(m.peakBitrate, 2_000_000, 'the 1 s segment of 250,000 bytes is the peak');
});

test('the HLS master lists each rendition with peak and average bandwidth, resolution, frame rate, codecs and the audio group', () => {
  const measured = [
    measureStream('media_0.m3u8', parseMediaPlaylist(playlist), [800_000, 700_000, 300_000], 0),
    measureStream('media_1.m3u8', parseMediaPlaylist(playlist), [100_000, 90_000, 40_000], 0),
    measureStream('media_2.m3u8', parseMediaPlaylist(playlist), [32_000, 32_000, 16_000], 0),
  ];
  const ffmpegMaster = `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_A1",NAME="audio_2",DEFAULT=YES,URI="media_2.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3132799,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="group_A1"
media_0.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1132799,RESOLUTION=426x240,CODECS="avc1.64000d,mp4a.40.2",AUDIO="group_A1"
media_1.m3u8
`;
  const master = buildHlsMaster(plan, measured, codecsFromFfmpegMaster(ffmpegMaster));
  const lines = master.trim().split('\n');
  assert.equal(lines[0], '#EXTM3U');
  const media = lines.find((l) => l.startsWith('#EXT-X-MEDIA:'));
  assert.match(media ?? '', /TYPE=AUDIO,GROUP-ID="audio".*CHANNELS="2",URI="media_2.m3u8"/);
  const variants = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  assert.equal(variants.length, 2);
  const first = variants[0] ?? '';
  // Peak: 800,000 B in 2 s = 3.2 Mbit/s video + 128 kbit/s audio peak (32,000 B / 2 s and 16,000 B / 1 s).
  assert.match(first, /BANDWIDTH=3328000,/);
  assert.match(first, /AVERAGE-BANDWIDTH=3008000,/, '(1.8 MB video + 80 kB audio) * 8 / 5 s');
  assert.match(first, /RESOLUTION=1280x720/);
  assert.match(first, /FRAME-RATE=25\.000/);
  assert.match(first, /CODECS="avc1\.64001f,mp4a\.40\.2"/);
  assert.match(first, /AUDIO="audio"/);
  assert.match(
    variants[1] ?? '',
    /CODECS="avc1\.64000d,mp4a\.40\.2"/,
    'codecs come from the actual encode when ffmpeg knows them',
  );
  assert.equal(lines[lines.indexOf(first) + 1], 'media_0.m3u8');
});

test('an audio-only HLS master has one audio variant and no video attributes', () => {
  const audioPlan: Plan = { ...plan, renditions: [], frameRate: null, sprites: null };
  const measured = [measureStream('media_0.m3u8', parseMediaPlaylist(playlist), [32_000, 32_000, 16_000], 0)];
  const master = buildHlsMaster(audioPlan, measured, new Map());
  assert.match(
    master,
    /#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,CODECS="mp4a.40.2"\nmedia_0.m3u8/,
  );
  assert.doesNotMatch(master, /RESOLUTION|EXT-X-MEDIA/);
});

test('sprite WebVTT: one cue per interval, tiles left to right, top to bottom, then the next sheet; last cue ends at the duration', () => {
  const vtt = buildSpriteVtt(plan, (n) => `sprites/sprite-${String(n).padStart(3, '0')}.jpg`);
  const blocks = vtt.trim().split('\n\n');
  assert.equal(blocks[0], 'WEBVTT');
  const cues = blocks.slice(1).map((b) => b.split('\n'));
  assert.equal(cues.length, 5);
  assert.deepEqual(cues[0], ['00:00:00.000 --> 00:00:01.000', 'sprites/sprite-001.jpg#xywh=0,0,160,90']);
  assert.deepEqual(cues[1]?.[1], 'sprites/sprite-001.jpg#xywh=160,0,160,90');
  assert.deepEqual(cues[2]?.[1], 'sprites/sprite-001.jpg#xywh=0,90,160,90');
  assert.deepEqual(cues[3]?.[1], 'sprites/sprite-001.jpg#xywh=160,90,160,90');
  assert.deepEqual(cues[4], ['00:00:04.000 --> 00:00:05.000', 'sprites/sprite-002.jpg#xywh=0,0,160,90']);
});

test('a tiny last segment (AAC priming spill) is folded into the one before; a normal last segment is kept', () => {
  const spill = `${playlist.replace('#EXT-X-ENDLIST\n', '')}#EXTINF:0.021333,\nchunk-0-00004.m4s\n#EXT-X-ENDLIST\n`;
  const parsed = parseMediaPlaylist(spill);
  assert.deepEqual(tinyTail(parsed, 2), { last: 'chunk-0-00004.m4s', into: 'chunk-0-00003.m4s' });
  const folded = parseMediaPlaylist(foldLastSegment(spill));
  assert.deepEqual(folded.segments.at(-1), { uri: 'chunk-0-00003.m4s', duration: 1.021333 });
  assert.equal(folded.segments.length, 3);
  assert.match(foldLastSegment(spill), /#EXT-X-ENDLIST/);
  assert.equal(tinyTail(parseMediaPlaylist(playlist), 2), null, 'a 1 s last segment of 2 s segments stays');
});
