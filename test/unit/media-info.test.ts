// ffprobe JSON -> MediaInfo, pure: rotation, aspect, frame rate and what to ignore.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { parseProbe, parseRatio } from '../../src/media/media-info.ts';

/** ffprobe -show_format -show_streams -of json output with one H.264 stream, `video` merged in. */
function probe(video: Record<string, unknown>, extraStreams: Record<string, unknown>[] = []): string {
  return JSON.stringify({
    streams: [
      {
        index: 0,
        codec_type: 'video',
        codec_name: 'h264',
        width: 1920,
        height: 1080,
        sample_aspect_ratio: '1:1',
        avg_frame_rate: '30/1',
        r_frame_rate: '30/1',
        pix_fmt: 'yuv420p',
        ...video,
      },
      ...extraStreams,
    ],
    format: {
      format_name: 'mov,mp4,m4a,3gp,3g2,mj2',
      duration: '12.500000',
      size: '1000000',
      bit_rate: '640000',
    },
  });
}

function isUnreadable(err: unknown): boolean {
  assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
  assert.equal(err.code, 'INPUT_UNREADABLE');
  return true;
}

describe('parseProbe', () => {
  test('reads the container, duration, size, bitrate and video stream', () => {
    const info = parseProbe(probe({}));
    assert.equal(info.container, 'mov,mp4,m4a,3gp,3g2,mj2');
    assert.equal(info.durationSeconds, 12.5);
    assert.equal(info.sizeBytes, 1_000_000);
    assert.equal(info.bitRate, 640_000);
    assert.equal(info.video?.codec, 'h264');
    assert.equal(info.video?.displayWidth, 1920);
    assert.equal(info.video?.displayHeight, 1080);
    assert.equal(info.video?.rotation, 0);
    assert.equal(info.streamCount, 1);
  });

  test('rotation 90 in side_data_list swaps the display width and height', () => {
    const v = parseProbe(
      probe({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] }),
    ).video;
    assert.equal(v?.rotation, 90);
    assert.equal(v?.width, 1920, 'coded size is unchanged');
    assert.equal(v?.height, 1080);
    assert.equal(v?.displayWidth, 1080);
    assert.equal(v?.displayHeight, 1920);
  });

  test("the legacy tags.rotate '-90' is normalised to 270 and also swaps display dims", () => {
    const v = parseProbe(probe({ tags: { rotate: '-90' } })).video;
    assert.equal(v?.rotation, 270);
    assert.equal(v?.displayWidth, 1080);
    assert.equal(v?.displayHeight, 1920);
  });

  test('a half turn (180) keeps the display dims', () => {
    const v = parseProbe(probe({ side_data_list: [{ rotation: -180 }] })).video;
    assert.equal(v?.rotation, 180);
    assert.equal(v?.displayWidth, 1920);
    assert.equal(v?.displayHeight, 1080);
  });

  test("sample_aspect_ratio '4:3' on 720x480 shows 960 wide", () => {
    const v = parseProbe(probe({ width: 720, height: 480, sample_aspect_ratio: '4:3' })).video;
    assert.equal(v?.displayWidth, 960);
    assert.equal(v?.displayHeight, 480);
  });

  test('an attached_pic video stream (cover art) is not taken as the video', () => {
    const cover = {
      codec_type: 'video',
      codec_name: 'mjpeg',
      width: 600,
      height: 600,
      disposition: { attached_pic: 1 },
    };
    const audio = { codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' };
    const onlyCover = JSON.stringify({ streams: [cover, audio], format: { format_name: 'mp3' } });
    const info = parseProbe(onlyCover);
    assert.equal(info.video, null);
    assert.equal(info.audio?.codec, 'mp3');
    const coverFirst = JSON.stringify({
      streams: [cover, { codec_type: 'video', codec_name: 'h264', width: 1280, height: 720 }],
    });
    assert.equal(parseProbe(coverFirst).video?.codec, 'h264');
  });

  test("avg_frame_rate '30000/1001' gives 29.97 and is not variable when r_frame_rate agrees", () => {
    const v = parseProbe(probe({ avg_frame_rate: '30000/1001', r_frame_rate: '30000/1001' })).video;
    assert.equal(v?.frameRate, 29.97);
    assert.equal(v?.variableFrameRate, false);
  });

  test("avg_frame_rate '0/0' falls back to r_frame_rate", () => {
    const v = parseProbe(probe({ avg_frame_rate: '0/0', r_frame_rate: '25/1' })).video;
    assert.equal(v?.frameRate, 25);
  });

  test('average and nominal rates that disagree mark the stream variable frame rate', () => {
    const v = parseProbe(probe({ avg_frame_rate: '24000/1001', r_frame_rate: '60/1' })).video;
    assert.equal(v?.variableFrameRate, true);
  });

  test('PQ transfer marks the video HDR; 10-bit depth is read from the pixel format', () => {
    const v = parseProbe(probe({ color_transfer: 'smpte2084', pix_fmt: 'yuv420p10le' })).video;
    assert.equal(v?.hdr, true);
    assert.equal(v?.bitDepth, 10);
    assert.equal(parseProbe(probe({})).video?.hdr, false);
  });

  test('the first audio stream is read', () => {
    const info = parseProbe(
      probe({}, [
        { codec_type: 'audio', codec_name: 'aac', channels: 6, channel_layout: '5.1', sample_rate: '48000' },
      ]),
    );
    assert.deepEqual(info.audio, {
      codec: 'aac',
      channels: 6,
      channelLayout: '5.1',
      sampleRate: 48_000,
      bitRate: null,
    });
  });

  test('no streams: video null, audio null', () => {
    const info = parseProbe(JSON.stringify({ streams: [], format: { format_name: 'data' } }));
    assert.equal(info.video, null);
    assert.equal(info.audio, null);
    assert.equal(info.streamCount, 0);
    const bare = parseProbe('{}');
    assert.equal(bare.video, null);
    assert.equal(bare.audio, null);
    assert.equal(bare.durationSeconds, null);
  });

  test('output that is not JSON is INPUT_UNREADABLE', () => {
    assert.throws(() => parseProbe('Invalid data found when processing input'), isUnreadable);
    assert.throws(() => parseProbe(''), isUnreadable);
    assert.throws(() => parseProbe('{"streams": ['), isUnreadable);
  });
});

describe('parseRatio', () => {
  test('reads a/b and a:b ratios', () => {
    assert.equal(parseRatio('30/1'), 30);
    assert.equal(parseRatio('4:3'), 4 / 3);
    assert.equal(parseRatio('30000/1001'), 30000 / 1001);
  });

  test('a plain positive number is itself', () => {
    assert.equal(parseRatio('25'), 25);
  });

  test('undefined, empty, zero and non-numeric ratios are null', () => {
    for (const v of [undefined, '', '0/0', '0/1', '1/0', '0', 'N/A', 'abc/def']) {
      assert.equal(parseRatio(v), null, String(v));
    }
  });
});
