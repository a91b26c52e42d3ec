// Templates (job settings) as zod schemas: the one definition of what a template may say. Every object is
// strict: an unknown key (a typo such as `enabeld`) is an error naming it, never silently dropped.
import { z } from 'zod';
import { fieldErrorsOf, fieldPathOf, SluiceError } from '../errors.ts';
import { DEFAULT_LIMITS } from '../media/input-policy.ts';
import { isWholeSegments, MIN_CHUNK_SECONDS } from './chunk-plan.ts';

export const RenditionSpec = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, - and _ only'),
  /** Target size of the picture's short side (1080 for 1080p; a portrait source keeps its orientation). */
  height: z.number().int().min(64).max(4320),
  videoBitrateKbps: z.number().int().min(50).max(200_000),
});
export type RenditionSpec = z.infer<typeof RenditionSpec>;

/**
 * Accelerated transcoding's settings: a template's, or a pipeline's for its jobs (config/pipeline-file.ts).
 */
export const Chunking = z.strictObject({
  enabled: z.boolean().default(false),
  chunkSeconds: z.number().min(MIN_CHUNK_SECONDS).max(3600).default(60),
  minInputSeconds: z
    .number()
    .min(0)
    .max(30 * 24 * 3600)
    .default(180),
});
export type Chunking = z.infer<typeof Chunking>;

export const Template = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    description: z.string().default(''),
    /** Video renditions; an empty ladder makes an audio-only template. */
    ladder: z.array(RenditionSpec).max(10),
    allowUpscale: z.boolean().default(false),
    video: z
      .strictObject({
        codec: z.literal('h264').default('h264'),
        preset: z
          .enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower'])
          .default('veryfast'),
        maxFrameRate: z.number().min(1).max(120).default(60),
        /** Peak rate allowed above the average bitrate, as a factor (HLS BANDWIDTH is the peak). */
        maxrateFactor: z.number().min(1).max(3).default(1.2),
      })
      .prefault({}),
    audio: z
      .strictObject({
        codec: z.literal('aac').default('aac'),
        bitrateKbps: z.number().int().min(32).max(512).default(128),
        channels: z.number().int().min(1).max(2).default(2),
      })
      .prefault({}),
    packaging: z
      .strictObject({
        segmentSeconds: z.number().min(1).max(30).default(4),
        hls: z.boolean().default(true),
        dash: z.boolean().default(true),
      })
      .prefault({}),
    mp4: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    thumbnail: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Where in the input the poster frame is taken, as a percentage of its duration... */
        atPercent: z.number().min(0).max(100).default(10),
        /** ...or at this time, when set. */
        atSeconds: z.number().min(0).optional(),
        height: z.number().int().min(32).max(2160).default(360),
      })
      .prefault({}),
    /** Sprite sheets of small frames and a WebVTT index, for scrubbing previews in players. */
    sprites: z
      .strictObject({
        enabled: z.boolean().default(false),
        intervalSeconds: z.number().min(0.5).max(60).default(2),
        /** Width of one small frame; its height follows the display aspect ratio. */
        width: z.number().int().min(32).max(640).default(160),
        columns: z.number().int().min(1).max(20).default(10),
        rows: z.number().int().min(1).max(20).default(10),
      })
      .prefault({}),
    /** What an input may be; checked after the probe, before any encode (see media/input-policy.ts). */
    limits: z
      .strictObject({
        maxBytes: z.number().int().positive().default(DEFAULT_LIMITS.maxBytes),
        maxPixels: z.number().int().positive().default(DEFAULT_LIMITS.maxPixels),
        maxDurationSeconds: z.number().positive().default(DEFAULT_LIMITS.maxDurationSeconds),
        maxStreams: z.number().int().positive().default(DEFAULT_LIMITS.maxStreams),
        maxFrames: z.number().int().positive().default(DEFAULT_LIMITS.maxFrames),
        maxPixelFrames: z.number().int().positive().default(DEFAULT_LIMITS.maxPixelFrames),
        maxDisplaySide: z.number().int().min(64).default(DEFAULT_LIMITS.maxDisplaySide),
        maxAspectRatio: z.number().min(1).default(DEFAULT_LIMITS.maxAspectRatio),
      })
      .prefault({}),
    /**
     * Accelerated transcoding: an input at least `minInputSeconds` long is encoded in chunks of
     * `chunkSeconds` (a whole number of segments) by any workers of the job's pool, then stitched into one
     * ladder. Shorter inputs, and templates without it, keep the single pass.
     */
    chunking: Chunking.prefault({}),
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Wall-clock limit of one attempt; past it the job ends in ERROR JOB_TIMEOUT (0: no limit). */
    timeoutSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(6 * 3600),
    /** CPU-time limit of the encode, all threads together (0: none); JOB_CPU_LIMIT past it. */
    cpuSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(24 * 3600),
  })
  .refine((t) => t.packaging.hls || t.packaging.dash || t.mp4.enabled, {
    message: 'a template must produce at least one of HLS, DASH or MP4',
    path: ['packaging'],
  })
  .refine((t) => t.ladder.length > 0 || !(t.mp4.enabled || t.thumbnail.enabled || t.sprites.enabled), {
    message: 'an audio-only template (empty ladder) cannot ask for an MP4, a thumbnail or sprites',
    path: ['ladder'],
  })
  .refine((t) => t.ladder.length > 0 || t.packaging.hls || t.packaging.dash, {
    message: 'an audio-only template (empty ladder) needs HLS or DASH packaging',
    path: ['packaging'],
  })
  .refine(
    (t) => !t.chunking.enabled || isWholeSegments(t.chunking.chunkSeconds, t.packaging.segmentSeconds),
    {
      message:
        'chunking.chunkSeconds must be a whole number of segments (packaging.segmentSeconds): chunks are cut on segment boundaries',
      path: ['chunking', 'chunkSeconds'],
    },
  )
  .refine((t) => !t.chunking.enabled || t.ladder.length > 0, {
    message: 'chunking encodes video in chunks; an audio-only template (empty ladder) keeps the single pass',
    path: ['chunking', 'enabled'],
  });
export type Template = z.infer<typeof Template>;

export function parseTemplate(input: unknown, source = 'template'): Template {
  const parsed = Template.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPathOf(i.path) || '(root)'}: ${i.message}`);
    throw new SluiceError('INVALID_TEMPLATE', `${source} is not valid: ${issues.join('; ')}`, {
      issues,
      errors: fieldErrorsOf(parsed.error.issues),
    });
  }
  return parsed.data;
}

/** The template with a pipeline's chunking in place of its own, checked as a template (INVALID_TEMPLATE). */
export function withChunking(template: Template, chunking: Chunking): Template {
  return parseTemplate({ ...template, chunking }, `template ${template.name} with its pipeline's chunking`);
}
