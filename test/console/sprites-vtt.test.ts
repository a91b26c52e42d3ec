// thumbnails/sprites.vtt as the job page's seek bar reads it (src/console/sprites-vtt.ts). The first
// text is what a real job wrote (a 3 s clip at 2 s intervals, 160x90 tiles, docs/output-layout.md).
import assert from 'node:assert/strict';
import test from 'node:test';
import { cueAt, parseSpritesVtt, parseVttTime } from '../../src/console/sprites-vtt.ts';

const VTT_URL = 'http://127.0.0.1:8787/v1/jobs/job_1/files/thumbnails/sprites.vtt';
const REAL = `WEBVTT

00:00:00.000 --> 00:00:02.000
../v/job_01m8shxh5ysm966tqgdvda-1/sprites/sprite-001.jpg#xywh=0,0,160,90

00:00:02.000 --> 00:00:03.000
../v/job_01m8shxh5ysm966tqgdvda-1/sprites/sprite-001.jpg#xywh=160,0,160,90
`;

test('a real sprites.vtt: cues with their tile and the sheet URL resolved against the .vtt', () => {
  const cues = parseSpritesVtt(REAL, VTT_URL);
  const sheet =
    'http://127.0.0.1:8787/v1/jobs/job_1/files/v/job_01m8shxh5ysm966tqgdvda-1/sprites/sprite-001.jpg';
  assert.deepEqual(cues, [
    { start: 0, end: 2, url: sheet, x: 0, y: 0, w: 160, h: 90 },
    { start: 2, end: 3, url: sheet, x: 160, y: 0, w: 160, h: 90 },
  ]);
  assert.equal(cueAt(cues, 0)?.x, 0);
  assert.equal(cueAt(cues, 1.999)?.x, 0);
  assert.equal(cueAt(cues, 2)?.x, 160);
  assert.equal(cueAt(cues, 9)?.x, 160, 'past the end: the last tile');
  assert.equal(cueAt([], 1), null);
});

test('CRLF, cue identifiers, settings after the end time, hours and short forms', () => {
  const text = [
    'WEBVTT - sprites',
    '',
    'NOTE made by hand',
    '',
    'c1',
    '01:00:00.500 --> 01:00:02.250 align:start',
    'sheets/a b.jpg#xywh=10,20,30,40',
    '',
    '00:05.000 --> 00:07.000',
    '/abs/s.jpg#xywh=0,90,160,90',
    '',
  ].join('\r\n');
  const cues = parseSpritesVtt(text, VTT_URL);
  assert.equal(cues.length, 2);
  assert.deepEqual(
    { start: cues[0]?.start, end: cues[0]?.end, url: cues[0]?.url, y: cues[0]?.y, h: cues[0]?.h },
    {
      start: 3600.5,
      end: 3602.25,
      url: 'http://127.0.0.1:8787/v1/jobs/job_1/files/thumbnails/sheets/a%20b.jpg',
      y: 20,
      h: 40,
    },
  );
  assert.equal(cues[1]?.url, 'http://127.0.0.1:8787/abs/s.jpg');
  assert.equal(cues[1]?.start, 5);
});

test('malformed cues are skipped, not guessed', () => {
  const text = `WEBVTT

00:00:00.000 --> 00:00:02.000
sprite.jpg

00:00:02.000 --> 00:00:01.000
sprite.jpg#xywh=0,0,160,90

00:00:04.000 --> 00:00:06.000
sprite.jpg#xywh=0,0,-160,90

00:00:06.000 --> 00:00:08.000
sprite.jpg#xywh=0,0,160

nonsense --> 00:00:10.000
sprite.jpg#xywh=0,0,160,90

00:00:10.000 --> 00:00:12.000
sprite.jpg#xywh=0,0,0,90

00:00:12.000 --> 00:00:14.000
sprite.jpg#xywh=320,90,160,90
`;
  const cues = parseSpritesVtt(text, VTT_URL);
  assert.deepEqual(
    cues.map((c) => [c.start, c.x, c.y]),
    [[12, 320, 90]],
  );
  assert.equal(cueAt(cues, 5), null, 'before the first cue: none');
  assert.ok(Number.isNaN(parseVttTime('1:2:3')));
  assert.equal(parseVttTime('00:00:01.5'), 1.5);
});
