// Ladder planning, pure: (template, probe) -> renditions, audio, frame rate and previews.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import type { AudioInfo, MediaInfo, VideoInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { fitShortSide, type Plan, planJob } from '../../src/templates/ladder.ts';
import { parseTemplate, type Template } from '../../src/templates/template.ts';
import { videoInfo } from './media-fixtures.ts';

const ABR = getBuiltinTemplate('abr-default');

function video(over: Partial<VideoInfo> = {}): VideoInfo {
  return videoInfo(over.width ?? 1920, over.height ?? 1080, over);
}

const STEREO: AudioInfo = {
  codec: 'aac',
  channels: 2,
  channelLayout: 'stereo',
  sampleRate: 48_000,
  bitRate: null,
};

function media(over: Partial<MediaInfo> = {}): MediaInfo {
  return {
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 60,
    sizeBytes: null,
    bitRate: null,
    video: video(),
    audio: STEREO,
    streamCount: 2,
    ...over,
  };
}

const sizes = (plan: Plan): string[] => plan.renditions.map((r) => `${r.width}x${r.height}`);

function isCode(code: string, messageIncludes?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (messageIncludes !== undefined) {
      assert.ok(err.message.includes(messageIncludes), `message ${JSON.stringify(err.message)}`);
    }
    return true;
  };
}

describe('renditions', () => {
  test('a 1080p source gets the whole abr-default ladder, highest first, at the seed bitrates', () => {
    const plan = planJob(ABR, media());
    assert.deepEqual(sizes(plan), ['1920x1080', '1280x720', '640x360']);
    assert.deepEqual(
      plan.renditions.map((r) => r.videoBitrateKbps),
      [5000, 3000, 1000],
    );
    assert.deepEqual(
      plan.renditions.map((r) => r.name),
      ['1080p', '720p', '360p'],
    );
  });

  test('peak rate and buffer follow the template: maxrate = bitrate x maxrateFactor, bufsize = 2 x maxrate', () => {
    const plan = planJob(ABR, media());
    for (const r of plan.renditions) {
      assert.equal(r.maxrateKbps, Math.round(r.videoBitrateKbps * ABR.video.maxrateFactor), r.name);
      assert.equal(r.bufsizeKbps, r.maxrateKbps * 2, r.name);
    }
  });

  test('a 720p source never upscales: the 1080p rung is skipped', () => {
    const plan = planJob(ABR, media({ video: video({ width: 1280, height: 720 }) }));
    assert.deepEqual(sizes(plan), ['1280x720', '640x360']);
    assert.deepEqual(
      plan.renditions.map((r) => r.videoBitrateKbps),
      [3000, 1000],
    );
  });

  test('allowUpscale: true keeps every rung even above the source size', () => {
    const template: Template = { ...ABR, allowUpscale: true };
    const plan = planJob(template, media({ video: video({ width: 1280, height: 720 }) }));
    assert.deepEqual(sizes(plan), ['1920x1080', '1280x720', '640x360']);
  });

  test('the ladder is ordered highest first whatever order the template lists it in', () => {
    const template: Template = { ...ABR, ladder: [...ABR.ladder].reverse() };
    assert.deepEqual(sizes(planJob(template, media())), ['1920x1080', '1280x720', '640x360']);
  });

  test('a portrait source stays portrait: the rung height is its short side (width)', () => {
    const plan = planJob(
      ABR,
      media({ video: video({ width: 1080, height: 1920, displayWidth: 1080, displayHeight: 1920 }) }),
    );
    assert.deepEqual(sizes(plan), ['1080x1920', '720x1280', '360x640']);
  });

  test('a rotated phone video (coded 1920x1080, shown 1080x1920) is planned at its display size', () => {
    const plan = planJob(
      ABR,
      media({
        video: video({ width: 1920, height: 1080, displayWidth: 1080, displayHeight: 1920, rotation: 90 }),
      }),
    );
    assert.deepEqual(sizes(plan), ['1080x1920', '720x1280', '360x640']);
  });

  test('an odd-sized source 853x479 gives even dimensions and at least one rendition', () => {
    const plan = planJob(ABR, media({ video: video({ width: 853, height: 479 }) }));
    assert.ok(plan.renditions.length >= 1);
    for (const r of plan.renditions) {
      assert.equal(r.width % 2, 0, `width ${r.width} is even`);
      assert.equal(r.height % 2, 0, `height ${r.height} is even`);
      assert.ok(r.width <= 854 && r.height <= 480, `${r.width}x${r.height} is not upscaled`);
    }
    if (plan.thumbnail) {
      assert.equal(plan.thumbnail.width % 2, 0);
      assert.equal(plan.thumbnail.height % 2, 0);
    }
  });

  test('a source smaller than every rung gets exactly one rendition at its own size and the lowest rate', () => {
    const plan = planJob(ABR, media({ video: video({ width: 160, height: 120 }) }));
    assert.deepEqual(sizes(plan), ['160x120']);
    assert.equal(plan.renditions[0]?.videoBitrateKbps, 1000);
  });

  test('rendition bitrates are capped at the source video bitrate (never below 100 kbit/s)', () => {
    const plan = planJob(ABR, media({ video: video({ bitRate: 2_000_000 }) }));
    assert.deepEqual(
      plan.renditions.map((r) => r.videoBitrateKbps),
      [2000, 2000, 1000],
    );
    const starved = planJob(ABR, media({ video: video({ bitRate: 20_000 }) }));
    for (const r of starved.renditions) assert.equal(r.videoBitrateKbps, 100, r.name);
  });

  test('every rendition shows at the source display aspect ratio (width x sar / height)', () => {
    const plan = planJob(ABR, media({ video: video({ width: 853, height: 479 }) }));
    for (const r of plan.renditions) {
      const [n, d] = r.sar.split('/').map(Number);
      assert.ok(n !== undefined && d !== undefined && d > 0, r.sar);
      const shown = (r.width * n) / d / r.height;
      assert.ok(Math.abs(shown - 853 / 479) < 1e-9, `${r.name}: ${shown} vs ${853 / 479}`);
    }
  });
});

describe('inputs without a stream', () => {
  test('a video template on an audio input plans its HLS/DASH audio and names what it leaves out', () => {
    const plan = planJob(ABR, media({ video: null }));
    assert.deepEqual(plan.renditions, []);
    assert.ok(plan.audio && plan.hls && plan.dash);
    assert.equal(plan.mp4, false);
    assert.equal(plan.thumbnail, null);
    assert.equal(plan.sprites, null);
    assert.deepEqual(
      plan.skipped?.map((s) => s.part),
      ['video', 'mp4', 'thumbnail', 'sprites'],
    );
  });

  test('an MP4-only template on an input with no video stream throws INPUT_NO_VIDEO', () => {
    assert.throws(
      () => planJob(getBuiltinTemplate('mp4-h264-aac'), media({ video: null })),
      isCode('INPUT_NO_VIDEO'),
    );
  });

  test('an input without audio plans no audio', () => {
    const plan = planJob(ABR, media({ audio: null }));
    assert.equal(plan.audio, null);
    assert.equal(plan.renditions.length, 3, 'the video is still planned');
  });

  test('an input with audio plans one AAC track at the template rate, channels capped by the source', () => {
    const stereo = planJob(ABR, media());
    assert.deepEqual(stereo.audio, { bitrateKbps: 128, channels: 2, codecs: 'mp4a.40.2' });
    const mono = planJob(ABR, media({ audio: { ...STEREO, channels: 1, channelLayout: 'mono' } }));
    assert.equal(mono.audio?.channels, 1);
    const surround = planJob(ABR, media({ audio: { ...STEREO, channels: 6, channelLayout: '5.1' } }));
    assert.equal(surround.audio?.channels, 2);
  });
});

describe('frame rate', () => {
  test('a source faster than maxFrameRate (120 fps, cap 60) is planned at 60 fps with the fps filter', () => {
    assert.equal(ABR.video.maxFrameRate, 60);
    const plan = planJob(ABR, media({ video: video({ frameRate: 120 }) }));
    assert.equal(plan.frameRate, 60);
    assert.equal(plan.changeFrameRate, true);
  });

  test('a constant 30 fps source within the cap keeps its rate and needs no frame rate change', () => {
    const plan = planJob(ABR, media({ video: video({ frameRate: 30 }) }));
    // Plan.frameRate is the output rate (null only for audio-only plans); no fps filter is needed.
    assert.equal(plan.frameRate, 30);
    assert.equal(plan.changeFrameRate, false);
  });

  test('a variable frame rate source is made constant', () => {
    const plan = planJob(ABR, media({ video: video({ frameRate: 29.97, variableFrameRate: true }) }));
    assert.equal(plan.frameRate, 29.97);
    assert.equal(plan.changeFrameRate, true);
  });
});

describe('thumbnail and packaging', () => {
  test('the thumbnail is taken at 10% of the duration by default', () => {
    assert.equal(planJob(ABR, media({ durationSeconds: 60 })).thumbnail?.atSeconds, 6);
    assert.equal(planJob(ABR, media({ durationSeconds: 12.5 })).thumbnail?.atSeconds, 1.25);
  });

  test('the thumbnail keeps the display aspect ratio at the template height', () => {
    const t = planJob(ABR, media()).thumbnail;
    assert.deepEqual(t && { width: t.width, height: t.height }, { width: 640, height: 360 });
  });

  test('the plan carries the template segment length and outputs', () => {
    const plan = planJob(ABR, media());
    assert.equal(plan.segmentSeconds, ABR.packaging.segmentSeconds);
    assert.equal(plan.hls, true);
    assert.equal(plan.dash, true);
    assert.equal(plan.mp4, true);
    assert.equal(plan.durationSeconds, 60);
  });
});

describe('fitShortSide', () => {
  test('fits the short side and keeps the aspect ratio and orientation, both sides even', () => {
    assert.deepEqual(fitShortSide(1920, 1080, 720), { width: 1280, height: 720 });
    assert.deepEqual(fitShortSide(1080, 1920, 720), { width: 720, height: 1280 });
    assert.deepEqual(fitShortSide(1000, 1000, 500), { width: 500, height: 500 });
    const odd = fitShortSide(853, 479, 479);
    assert.equal(odd.width % 2, 0);
    assert.equal(odd.height % 2, 0);
  });
});

describe('parseTemplate', () => {
  test('a minimal template gets the documented defaults', () => {
    const t = parseTemplate({
      name: 'mine',
      ladder: [{ name: '480p', height: 480, videoBitrateKbps: 1500 }],
    });
    assert.equal(t.allowUpscale, false);
    assert.equal(t.video.maxFrameRate, 60);
    assert.equal(t.packaging.segmentSeconds, 4);
    assert.equal(t.mp4.enabled, true);
    assert.equal(t.maxAttempts, 3);
  });

  test('an empty ladder that still asks for an MP4 and a thumbnail is INVALID_TEMPLATE naming ladder', () => {
    assert.throws(() => parseTemplate({ name: 'bad', ladder: [] }), isCode('INVALID_TEMPLATE', 'ladder'));
  });

  test('a rendition height that is not a number is INVALID_TEMPLATE naming ladder[0].height', () => {
    assert.throws(
      () => parseTemplate({ name: 'bad', ladder: [{ name: 'x', height: 'x', videoBitrateKbps: 1000 }] }),
      isCode('INVALID_TEMPLATE', 'ladder[0].height'),
    );
  });

  test('the error message names the template source it came from', () => {
    assert.throws(
      () => parseTemplate({ name: 'Bad Name', ladder: ABR.ladder }, 'jobs/settings.json'),
      isCode('INVALID_TEMPLATE', 'jobs/settings.json'),
    );
  });
});
