// An audio-only input under a video template, pure: the template's audio part (its HLS/DASH audio
// rendition), as Mux and PeerTube take audio uploads, and a record of what could not be made. The video
// renditions, the MP4 (video first, by definition of this template's MP4), the poster and the sprites
// all need pictures; they are named in `plan.skipped` instead of failing the job.
import { SluiceError } from '../errors.ts';
import type { Plan } from './ladder.ts';
import type { Template } from './template.ts';

export interface SkippedPart {
  /** `video` (the renditions) | `mp4` | `thumbnail` | `sprites` */
  part: string;
  reason: string;
}

type Common = Pick<Plan, 'segmentSeconds' | 'durationSeconds' | 'hls' | 'dash' | 'preset'>;

export function planAudioOfVideoTemplate(template: Template, audio: Plan['audio'], common: Common): Plan {
  if (!audio) {
    // checkProbe refuses an input with neither stream first (INPUT_UNREADABLE); kept for plan callers.
    throw new SluiceError(
      'INPUT_NO_VIDEO',
      `template ${template.name} needs a video or an audio stream; the input has neither`,
    );
  }
  // A template that packages no HLS/DASH has nothing an audio file can give: its one output is an MP4
  // of the top video rendition. Making an M4A instead would publish a file the template never asked for
  // under its name; the user is told which template takes the file.
  if (!common.hls && !common.dash) {
    throw new SluiceError(
      'INPUT_NO_VIDEO',
      `template ${template.name} makes an MP4 video only and the input has no video stream; use the audio-only template, or any template with HLS or DASH, for audio files`,
    );
  }
  const why = 'the input has no video stream (audio file)';
  const skipped: SkippedPart[] = [
    { part: 'video', reason: `${template.ladder.length} video rendition(s): ${why}` },
  ];
  if (template.mp4.enabled)
    skipped.push({ part: 'mp4', reason: `the MP4 is the top video rendition: ${why}` });
  if (template.thumbnail.enabled)
    skipped.push({ part: 'thumbnail', reason: `the poster is a frame: ${why}` });
  if (template.sprites.enabled) skipped.push({ part: 'sprites', reason: `sprite sheets are frames: ${why}` });
  return { ...audioOnlyPlan(common, audio), skipped };
}

/** A plan of the audio alone: no renditions, frames, MP4 or pictures (an audio-only template, or file). */
export function audioOnlyPlan(common: Common, audio: NonNullable<Plan['audio']>): Plan {
  return {
    ...common,
    renditions: [],
    audio,
    frameRate: null,
    changeFrameRate: false,
    toneMap: false,
    thumbnail: null,
    sprites: null,
    mp4: false,
  };
}
