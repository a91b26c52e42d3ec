// ffmpeg's -progress stream and the job progress made of it, pure: a clock is injected.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressParser, type ProgressSample, toJobProgress } from '../../src/media/progress.ts';

/** A clock the test moves by hand, in seconds. */
function clock(start = 100) {
  let now = start;
  return { now: () => now, advance: (s: number) => (now += s) };
}

/** One block as ffmpeg 5.1 prints it (keys in its order). */
const block = (frame: number, outUs: number, speed: string, end = false) =>
  `frame=${frame}\nfps=0.00\nstream_0_0_q=28.0\nbitrate=N/A\ntotal_size=N/A\nout_time_us=${outUs}\n` +
  `out_time_ms=${outUs}\nout_time=00:00:00.000000\ndup_frames=0\ndrop_frames=0\nspeed=${speed}\n` +
  `progress=${end ? 'end' : 'continue'}\n`;

describe('ProgressParser', () => {
  test('chunks split mid-line and mid-block still give whole samples', () => {
    const c = clock();
    const parser = new ProgressParser(c.now);
    const stream =
      'frame=30\nfps=29.5\nout_time_us=1000000\nspeed=1.5x\nprogress=continue\n' +
      'frame=60\nfps=30.0\nout_time_us=2500000\nspeed=2x\nprogress=end\n';
    const chunks = [stream.slice(0, 7), stream.slice(7, 23), stream.slice(23, 70), stream.slice(70)];
    assert.equal(chunks.join(''), stream);
    c.advance(2);
    const samples: ProgressSample[] = chunks.flatMap((chunk) => parser.push(chunk));
    assert.deepEqual(samples, [
      { frames: 30, outTimeSeconds: 1, fps: 29.5, speed: 1.5, elapsedSeconds: 2, done: false },
      { frames: 60, outTimeSeconds: 2.5, fps: 30, speed: 2, elapsedSeconds: 2, done: true },
    ]);
  });

  test('wall time is measured from the parser made at spawn, by the clock given', () => {
    const c = clock();
    const parser = new ProgressParser(c.now);
    c.advance(0.5);
    assert.equal(parser.push(block(15, 500_000, '1x'))[0]?.elapsedSeconds, 0.5);
    c.advance(1.5);
    assert.equal(parser.push(block(60, 2_000_000, '1x'))[0]?.elapsedSeconds, 2);
  });

  test('a sample is emitted only when its block ends with progress=', () => {
    const parser = new ProgressParser(clock().now);
    assert.deepEqual(parser.push('out_time_us=500000\nfps=10\n'), []);
    assert.equal(parser.push('speed=0.5x\nprogress=continue\n')[0]?.outTimeSeconds, 0.5);
  });

  test('N/A values become null, a missing time is 0, no frame= (audio only) is null frames', () => {
    const parser = new ProgressParser(clock().now);
    const [s] = parser.push('out_time_us=N/A\nfps=N/A\nspeed=N/A\nprogress=continue\n');
    assert.deepEqual(s, {
      frames: null,
      outTimeSeconds: 0,
      fps: null,
      speed: null,
      elapsedSeconds: 0,
      done: false,
    });
  });

  test('out_time_ms is read as microseconds when out_time_us is missing', () => {
    const parser = new ProgressParser(clock().now);
    assert.equal(parser.push('out_time_ms=3000000\nprogress=continue\n')[0]?.outTimeSeconds, 3);
  });

  test('blocks do not leak values into the next block', () => {
    const parser = new ProgressParser(clock().now);
    const [, second] = parser.push(
      'frame=3\nfps=25\nspeed=1x\nprogress=continue\nout_time_us=1\nprogress=continue\n',
    );
    assert.equal(second?.fps, null);
    assert.equal(second?.speed, null);
    assert.equal(second?.frames, null);
  });
});

describe('toJobProgress', () => {
  const video = { durationSeconds: 20, frameRate: 30 };
  const sample = (over: Partial<ProgressSample>): ProgressSample => ({
    frames: 0,
    outTimeSeconds: 0,
    fps: 0,
    speed: 0,
    elapsedSeconds: 1,
    done: false,
    ...over,
  });

  test('percent is the top rendition frames at the plan rate over the duration, whatever out_time says', () => {
    // ffmpeg's out_time is the furthest end of any output: a 100-tile sprite sheet "ends" at 200 s.
    const p = toJobProgress(sample({ frames: 150, outTimeSeconds: 200, elapsedSeconds: 2 }), video);
    assert.equal(p.percent, 25);
  });

  test('fps and speed are frames and media seconds over wall seconds on Sluice clock, not ffmpeg figures', () => {
    const p = toJobProgress(
      sample({ frames: 150, outTimeSeconds: 200, fps: 0, speed: 71.8, elapsedSeconds: 2 }),
      video,
    );
    assert.equal(p.fps, 75);
    assert.equal(p.speed, 2.5, '5 s of media in 2 s');
    assert.equal(p.etaSeconds, 6, '15 s left at 2.5x');
  });

  test('ETA is finite and falls as a steady encode goes on; percent rises', () => {
    const seen = [1, 2, 3, 4, 5].map((s) =>
      toJobProgress(sample({ frames: s * 90, elapsedSeconds: s }), video),
    );
    for (let i = 1; i < seen.length; i++) {
      assert.ok((seen[i]?.percent ?? 0) > (seen[i - 1]?.percent ?? 0));
      assert.ok((seen[i]?.etaSeconds ?? Infinity) < (seen[i - 1]?.etaSeconds ?? 0), JSON.stringify(seen));
    }
  });

  test('audio only (no frame rate, no frames): media time is out_time, fps is null', () => {
    const p = toJobProgress(sample({ frames: null, outTimeSeconds: 10, elapsedSeconds: 1 }), {
      durationSeconds: 20,
      frameRate: null,
    });
    assert.deepEqual(p, { percent: 50, fps: null, speed: 10, etaSeconds: 1 });
  });

  test('percent stays below 100 and ETA at 0 until ffmpeg says the end', () => {
    const p = toJobProgress(sample({ frames: 660, elapsedSeconds: 4 }), video);
    assert.equal(p.percent, 99.9);
    assert.equal(p.etaSeconds, 0);
  });

  test('nothing encoded yet: percent 0, speed and ETA unknown (null), never Infinity', () => {
    const p = toJobProgress(sample({ frames: 0, elapsedSeconds: 0.3 }), video);
    assert.deepEqual(p, { percent: 0, fps: 0, speed: null, etaSeconds: null });
    const none = toJobProgress(sample({ frames: 0, elapsedSeconds: 0 }), video);
    assert.equal(none.fps, null);
  });

  test('unknown duration: percent 0 and ETA null, fps and speed still measured', () => {
    for (const durationSeconds of [null, 0]) {
      assert.deepEqual(
        toJobProgress(sample({ frames: 60, elapsedSeconds: 2 }), { durationSeconds, frameRate: 30 }),
        {
          percent: 0,
          fps: 30,
          speed: 1,
          etaSeconds: null,
        },
      );
    }
  });

  test('the end sample is 100 percent with ETA 0; its speed is the whole media over the whole wall time', () => {
    const end = toJobProgress(
      sample({ done: true, frames: 600, outTimeSeconds: 200, elapsedSeconds: 8 }),
      video,
    );
    assert.deepEqual(end, { percent: 100, fps: 75, speed: 2.5, etaSeconds: 0 });
    assert.equal(
      toJobProgress(sample({ done: true, frames: 60 }), { durationSeconds: null, frameRate: 30 }).percent,
      100,
    );
  });
});
