// Entry points rewritten to point into a version folder, pure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rebaseHlsMaster, rebaseMpd, rebaseSpriteVtt } from '../../src/media/rebase.ts';

test('rebaseHlsMaster prefixes variant URIs and URI attributes, and leaves tags and absolute URLs alone', () => {
  const master = [
    '#EXTM3U',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",URI="media_2.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360',
    'media_0.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=2',
    'https://cdn.example/x.m3u8',
    '',
  ].join('\n');
  assert.equal(
    rebaseHlsMaster(master, 'v/j-1/'),
    [
      '#EXTM3U',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",URI="v/j-1/media_2.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360',
      'v/j-1/media_0.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=2',
      'https://cdn.example/x.m3u8',
      '',
    ].join('\n'),
  );
});

test('rebaseMpd puts a BaseURL first in every Period and refuses a text without one', () => {
  const mpd = '<MPD><Period id="0" start="PT0.0S"><AdaptationSet/></Period></MPD>';
  assert.equal(
    rebaseMpd(mpd, 'v/j-1/'),
    '<MPD><Period id="0" start="PT0.0S">\n\t\t<BaseURL>v/j-1/</BaseURL><AdaptationSet/></Period></MPD>',
  );
  assert.throws(() => rebaseMpd('<html/>', 'v/'));
});

test('rebaseSpriteVtt prefixes each cue image and nothing else', () => {
  const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprites/sprite-001.jpg#xywh=0,0,160,90\n';
  assert.equal(
    rebaseSpriteVtt(vtt, '../v/j-1/'),
    'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n../v/j-1/sprites/sprite-001.jpg#xywh=0,0,160,90\n',
  );
});
