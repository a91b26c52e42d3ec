// Work limits, pure: probe JSON -> MediaInfo -> the plan's frame rate and poster time, and the input
// policy's verdict on frames, pixels x frames and the display size after the sample aspect ratio.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import { checkProbe, DEFAULT_LIMITS, type InputLimits } from '../../src/media/input-policy.ts';
import { parseProbe } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { planJob } from '../../src/templates/ladder.ts';
import { parseTemplate } from '../../src/templates/template.ts';

const ABR = getBuiltinTemplate('abr-default');

interface Shape {
  width?: number;
  height?: number;
  sar?: string;
  rate?: string;
  frames?: number;
  seconds?: number;
  /** Stream start times (an edit list or a large start_time), and the container's own duration. */
  videoStart?: number;
  audioStart?: number;
  formatDuration?: number;
}

/** ffprobe -show_format -show_streams JSON for one H.264 video and one AAC stream. */
function probeJson(o: Shape = {}): string {
  const seconds = o.seconds ?? 2;
  const videoStart = o.videoStart ?? 0;
  const audioStart = o.audioStart ?? videoStart;
  return JSON.stringify({
    streams: [
      {
        codec_type: 'video',
        codec_name: 'h264',
        width: o.width ?? 1280,
        height: o.height ?? 720,
        sample_aspect_ratio: o.sar ?? '1:1',
        avg_frame_rate: o.rate ?? '30/1',
        r_frame_rate: o.rate ?? '30/1',
        pix_fmt: 'yuv420p',
        start_time: videoStart.toFixed(6),
        duration: seconds.toFixed(6),
        ...(o.frames !== undefined ? { nb_frames: String(o.frames) } : {}),
      },
      {
        codec_type: 'audio',
        codec_name: 'aac',
        channels: 2,
        sample_rate: '48000',
        start_time: audioStart.toFixed(6),
        duration: seconds.toFixed(6),
      },
    ],
    format: {
      format_name: 'mov,mp4,m4a,3gp,3g2,mj2',
      start_time: Math.min(videoStart, audioStart).toFixed(6),
      duration: (o.formatDuration ?? seconds).toFixed(6),
      size: '778000',
    },
  });
}

function refusedWith(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof SluiceError, `a SluiceError, not ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.retryable, false, `${code} is not retryable`);
    return true;
  };
}

describe('the frame-rate cap always holds', () => {
  test('a 1000 fps source is probed as 1000 fps and capped by the plan (fps filter on)', () => {
    const media = parseProbe(probeJson({ width: 16, height: 16, rate: '1000/1', seconds: 1 }));
    assert.equal(media.video?.frameRate, 1000);
    const plan = planJob(ABR, media);
    assert.ok(plan.frameRate !== null && plan.frameRate <= ABR.video.maxFrameRate, `${plan.frameRate}`);
    assert.equal(plan.changeFrameRate, true);
  });

  test('an unknown frame rate still gets the fps filter, so the output is the rate the master claims', () => {
    const media = parseProbe(probeJson({ rate: '0/0' }));
    assert.equal(media.video?.frameRate, null);
    const plan = planJob(ABR, media);
    assert.equal(plan.frameRate, 30);
    assert.equal(plan.changeFrameRate, true);
  });

  test('a nominal 1000/1 with no average is a timebase (Matroska), not a rate: unknown, filtered', () => {
    const json = probeJson({ rate: '0/0' }).replace('"r_frame_rate":"0/0"', '"r_frame_rate":"1000/1"');
    assert.match(json, /"r_frame_rate":"1000\/1"/);
    const v = parseProbe(json).video;
    assert.equal(v?.frameRate, null);
  });

  test('an ordinary 30 fps source is left alone', () => {
    const plan = planJob(ABR, parseProbe(probeJson()));
    assert.equal(plan.frameRate, 30);
    assert.equal(plan.changeFrameRate, false);
  });
});

describe('input limits count work, not only size', () => {
  const limits = (over: Partial<InputLimits>): InputLimits => ({ ...DEFAULT_LIMITS, ...over });

  test('the template carries the new limits, with defaults that let 4K, 60 fps, 12 h through', () => {
    const t = parseTemplate({ name: 'x', ladder: [{ name: 'a', height: 360, videoBitrateKbps: 800 }] });
    assert.deepEqual(t.limits, DEFAULT_LIMITS);
    const big = parseProbe(
      probeJson({ width: 3840, height: 2160, rate: '60/1', seconds: 12 * 3600, frames: 60 * 12 * 3600 }),
    );
    assert.doesNotThrow(() => checkProbe(big, t.limits));
    const custom = parseTemplate({
      name: 'y',
      ladder: [{ name: 'a', height: 360, videoBitrateKbps: 800 }],
      limits: { maxFrames: 100, maxPixelFrames: 1000, maxDisplaySide: 4096, maxAspectRatio: 4 },
    });
    assert.equal(custom.limits.maxFrames, 100);
    assert.equal(custom.limits.maxPixelFrames, 1000);
    assert.equal(custom.limits.maxDisplaySide, 4096);
    assert.equal(custom.limits.maxAspectRatio, 4);
  });

  test('more frames than allowed is INPUT_TOO_MANY_FRAMES (counted from the rate when nb_frames is low)', () => {
    const media = parseProbe(probeJson({ rate: '1000/1', seconds: 10, frames: 10_000 }));
    assert.throws(() => checkProbe(media, limits({ maxFrames: 5000 })), refusedWith('INPUT_TOO_MANY_FRAMES'));
    // A header that under-reports its frames does not hide them: duration x rate counts too.
    const lying = parseProbe(probeJson({ rate: '1000/1', seconds: 10, frames: 1 }));
    assert.throws(() => checkProbe(lying, limits({ maxFrames: 5000 })), refusedWith('INPUT_TOO_MANY_FRAMES'));
    assert.doesNotThrow(() => checkProbe(media, limits({ maxFrames: 10_000 })));
  });

  test('more pixels x frames than allowed is INPUT_TOO_MUCH_WORK', () => {
    // 720p at 1000 fps for 10 s: 9.2e9 pixel-frames, small in bytes, hours of work.
    const media = parseProbe(probeJson({ rate: '1000/1', seconds: 10, frames: 10_000 }));
    assert.throws(
      () => checkProbe(media, limits({ maxPixelFrames: 1280 * 720 * 5000 })),
      refusedWith('INPUT_TOO_MUCH_WORK'),
    );
    assert.doesNotThrow(() => checkProbe(media, limits({ maxPixelFrames: 1280 * 720 * 10_000 })));
  });

  test('a SAR of 100:1 (320x240 shown at 32000x240) is refused for its display size', () => {
    const media = parseProbe(probeJson({ width: 320, height: 240, sar: '100:1' }));
    assert.equal(media.video?.displayWidth, 32_000);
    assert.throws(() => checkProbe(media, DEFAULT_LIMITS), refusedWith('INPUT_BAD_ASPECT_RATIO'));
    assert.throws(
      () => checkProbe(media, limits({ maxAspectRatio: 1000 })),
      refusedWith('INPUT_DISPLAY_TOO_LARGE'),
    );
  });

  test('a SAR of 1:100 (shown 19 px wide) is refused as INPUT_BAD_ASPECT_RATIO', () => {
    const media = parseProbe(probeJson({ width: 1920, height: 1080, sar: '1:100' }));
    assert.throws(() => checkProbe(media, DEFAULT_LIMITS), refusedWith('INPUT_BAD_ASPECT_RATIO'));
  });

  test('ordinary anamorphic and wide sources pass', () => {
    for (const shape of [
      { width: 720, height: 576, sar: '64:45' }, // PAL 16:9
      { width: 1440, height: 1080, sar: '4:3' }, // HDV
      { width: 5760, height: 1080, sar: '1:1' }, // triple-wide 48:9 video wall
      { width: 1080, height: 1920, sar: '1:1' }, // portrait phone
    ]) {
      assert.doesNotThrow(
        () => checkProbe(parseProbe(probeJson(shape)), DEFAULT_LIMITS),
        JSON.stringify(shape),
      );
    }
  });
});

describe('the poster lies inside the video stream', () => {
  // Streams that start 10 h in (an edit list or -output_ts_offset): the container claims 36002 s.
  const media = parseProbe(
    probeJson({ videoStart: 36_000, audioStart: 35_999.976, seconds: 2, formatDuration: 36_002 }),
  );

  test('the media lasts as long as its streams span, not the container duration', () => {
    assert.ok(media.durationSeconds !== null && Math.abs(media.durationSeconds - 2.024) < 0.01);
  });

  test('the poster time is within the video, on the timeline ffmpeg filters see (from the first stream)', () => {
    const at = planJob(ABR, media).thumbnail?.atSeconds ?? -1;
    // The video starts 0.024 s after the audio; the poster is 10% into the video's 2 s.
    assert.ok(at >= 0.024 && at <= 2.024 - 0.5, `poster at ${at}`);
    assert.ok(Math.abs(at - (0.024 + 0.2)) < 0.01, `poster at ${at}`);
  });

  test('sprites count the streams, not 10 h of container', () => {
    const t = parseTemplate({ ...ABR, sprites: { enabled: true, intervalSeconds: 1 } });
    assert.equal(planJob(t, media).sprites?.count, 3);
  });

  test('a template time past the end of the video is clamped inside it', () => {
    const t = parseTemplate({ ...ABR, thumbnail: { atSeconds: 60 } });
    const at = planJob(t, media).thumbnail?.atSeconds ?? -1;
    assert.ok(at >= 0.024 && at <= 2.024 - 0.5, `poster at ${at}`);
  });
});
