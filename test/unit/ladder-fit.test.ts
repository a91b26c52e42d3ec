// A ladder that fits every source (issue 8 item 3), pure: a source between rungs gets a top rendition
// at its own size, and a video track that ends before its audio is held on its last frame to the end.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTranscodeArgs } from '../../src/media/ffmpeg-args.ts';
import type { MediaInfo, VideoInfo } from '../../src/media/media-info.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';
import { type Plan, planJob } from '../../src/templates/ladder.ts';
import { parseTemplate } from '../../src/templates/template.ts';
import { localPaths } from '../../src/worker/encode.ts';
import { videoInfo } from './media-fixtures.ts';

const ABR = getBuiltinTemplate('abr-default');

const video = videoInfo;

function media(v: VideoInfo, over: Partial<MediaInfo> = {}): MediaInfo {
  return {
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: 60,
    startSeconds: 0,
    sizeBytes: null,
    bitRate: null,
    video: v,
    audio: { codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 48_000, bitRate: null },
    streamCount: 2,
    ...over,
  };
}

const sizes = (plan: Plan) => plan.renditions.map((r) => `${r.width}x${r.height}`);
const rates = (plan: Plan) => plan.renditions.map((r) => r.videoBitrateKbps);

describe('a source between rungs', () => {
  test('854x480 gets a top rendition at its own size above 360p, not 360p alone', () => {
    const plan = planJob(ABR, media(video(854, 480)));
    assert.deepEqual(sizes(plan), ['854x480', '640x360']);
    assert.deepEqual(
      plan.renditions.map((r) => r.name),
      ['480p', '360p'],
    );
    // Scaled from the rung above (720p, 1280x720 at 3000 kbit/s) by pixel count.
    assert.equal(rates(plan)[0], Math.round((3000 * 854 * 480) / (1280 * 720)));
    assert.equal(rates(plan)[1], 1000);
    const top = plan.renditions[0];
    assert.equal(top?.maxrateKbps, Math.round((top?.videoBitrateKbps ?? 0) * ABR.video.maxrateFactor));
    assert.equal(top?.sar, '1/1');
  });

  test("the source-size rendition's bitrate is capped at the source's own bitrate", () => {
    const plan = planJob(ABR, media(video(854, 480, { bitRate: 1_200_000 })));
    assert.deepEqual(rates(plan), [1200, 1000]);
  });

  test('a portrait 480x854 source keeps its orientation', () => {
    const plan = planJob(ABR, media(video(480, 854)));
    assert.deepEqual(sizes(plan), ['480x854', '360x640']);
  });

  test('a 1600x900 source: 900p on top of 720p and 360p', () => {
    const plan = planJob(ABR, media(video(1600, 900)));
    assert.deepEqual(sizes(plan), ['1600x900', '1280x720', '640x360']);
    assert.equal(rates(plan)[0], Math.round((5000 * 1600 * 900) / (1920 * 1080)));
  });

  test('never fewer bits than the rung below: 400p from 720p by pixels would be 926 < 1000', () => {
    const plan = planJob(ABR, media(video(712, 400)));
    assert.deepEqual(sizes(plan), ['712x400', '640x360']);
    assert.deepEqual(rates(plan), [1000, 1000]);
  });

  test('853x479 sits between rungs too: its own size made even, never a pixel more', () => {
    const plan = planJob(ABR, media(video(853, 479)));
    assert.deepEqual(sizes(plan), ['852x478', '640x360']);
    assert.equal(plan.renditions[0]?.name, '478p');
  });

  test('a source just above a rung (within 10%) raises that rung to its size instead of adding one', () => {
    const plan = planJob(ABR, media(video(1312, 738)));
    assert.deepEqual(sizes(plan), ['1312x738', '640x360']);
    assert.deepEqual(
      plan.renditions.map((r) => r.name),
      ['738p', '360p'],
    );
  });

  test('a source exactly on a rung, or above the top rung, gets the ladder unchanged', () => {
    assert.deepEqual(sizes(planJob(ABR, media(video(1280, 720)))), ['1280x720', '640x360']);
    assert.deepEqual(sizes(planJob(ABR, media(video(3840, 2160)))), ['1920x1080', '1280x720', '640x360']);
  });

  test('allowUpscale keeps the ladder as written', () => {
    const plan = planJob({ ...ABR, allowUpscale: true }, media(video(854, 480)));
    assert.deepEqual(sizes(plan), ['1920x1080', '1280x720', '640x360']);
  });

  test("a name the template already uses is not reused for the source's rendition", () => {
    const t = parseTemplate({
      name: 'odd-names',
      ladder: [
        { name: '480p', height: 360, videoBitrateKbps: 800 },
        { name: 'hd', height: 720, videoBitrateKbps: 3000 },
      ],
    });
    const plan = planJob(t, media(video(854, 480)));
    assert.deepEqual(
      plan.renditions.map((r) => r.name),
      ['source', '480p'],
    );
  });
});

describe('a video track that ends before its audio', () => {
  const short = media(video(640, 360, { startSeconds: 0, durationSeconds: 0.5 }), { durationSeconds: 4 });

  test('the plan covers the whole input and holds the last frame for the rest', () => {
    const plan = planJob(ABR, short);
    assert.equal(plan.durationSeconds, 4);
    assert.equal(plan.holdLastFrameSeconds, 3.5);
  });

  test('the poster is taken inside the 0.5 s of video', () => {
    const at = planJob(ABR, short).thumbnail?.atSeconds;
    assert.ok(at !== undefined && at >= 0 && at < 0.5, `poster at ${at} s`);
  });

  test('the video filter holds the last frame (tpad clone) before the split, in whole frames', () => {
    const plan = planJob(ABR, short);
    const graph = buildTranscodeArgs(plan, localPaths('/tmp/w', '/tmp/in.mp4'));
    const filter = graph[graph.indexOf('-filter_complex') + 1] ?? '';
    assert.match(filter, /^\[0:v:0\]tpad=stop_mode=clone:stop=105,split=/);
  });

  test('no hold when the audio outlasts the video by a frame or less (AAC priming, 21 ms)', () => {
    const plan = planJob(
      ABR,
      media(video(640, 360, { startSeconds: 0, durationSeconds: 4 }), { durationSeconds: 4.021 }),
    );
    assert.equal(plan.holdLastFrameSeconds ?? 0, 0);
    const graph = buildTranscodeArgs(plan, localPaths('/tmp/w', '/tmp/in.mp4')).join(' ');
    assert.doesNotMatch(graph, /tpad/);
  });

  test('streams starting 10 h in: the hold counts from where the video starts, not from zero', () => {
    const late = media(video(640, 360, { startSeconds: 36_000, durationSeconds: 1 }), {
      durationSeconds: 3,
      startSeconds: 36_000,
    });
    assert.equal(planJob(ABR, late).holdLastFrameSeconds, 2);
  });

  test('an input without audio is never held', () => {
    const plan = planJob(ABR, { ...short, audio: null });
    assert.equal(plan.holdLastFrameSeconds ?? 0, 0);
  });
});
