// The configuration file (`sluice serve --config FILE`, SLUICE_CONFIG): YAML or JSON with a top-level
// `pipelines:` list and an optional `notifications:` section (email rules, docs/notifications.md). Every
// error names the file, the pipeline and the field: `sluice.yaml: pipelines[1].template: unknown
// template "abr-1080"`. Without a file, the default pipeline runs (zero configuration).
import fs from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import { AUDIO_SUFFIXES, type Pipeline, VIDEO_SUFFIXES } from '../ingest/pipeline.ts';
import { DEFAULT_BACKOFF } from '../jobs/retry-policy.ts';
import { type EmailRule, EmailRuleSpec, emailRuleOf } from '../notify/email-rules.ts';
import { BUCKET_NAME } from '../storage/object-key.ts';
import { Chunking, withChunking } from '../templates/template.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Names the server gives its own jobs' scopes (`api:<template>`): no pipeline may take them. */
const RESERVED_NAMES = ['api'];

/** A key prefix: '' (the whole bucket) or a relative path of plain segments, e.g. `inputs/`. */
const prefix = z
  .string()
  .max(512)
  .refine(
    (p) =>
      p === '' ||
      (!p.startsWith('/') &&
        !p.includes('\\') &&
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
        !/[\u0000-\u001f\u007f]/.test(p) &&
        p
          .split('/')
          .every((seg, i, all) => (seg !== '' || i === all.length - 1) && seg !== '.' && seg !== '..')),
    'a key prefix is relative, of plain segments separated by "/" (e.g. "inputs/"), without "." or ".."',
  );

const bucket = z.string().regex(BUCKET_NAME, 'a bucket name is 2-63 lowercase letters, digits, . and -');

const suffix = z
  .string()
  .regex(/^\.[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/, 'a suffix starts with "." (e.g. ".mp4")')
  .transform((s) => s.toLowerCase());

const seconds = z.number().positive().max(86_400);

export const PipelineSpec = z.strictObject({
  name: z
    .string()
    .regex(NAME, 'a pipeline name is 1-64 lowercase letters, digits, ".", "_" and "-"')
    .refine((n) => !RESERVED_NAMES.includes(n), 'this name is reserved (jobs made through the API)'),
  source: z.strictObject({
    bucket,
    prefix: prefix.default(''),
    suffixes: z
      .array(suffix)
      .min(1)
      .default(() => [...VIDEO_SUFFIXES, ...AUDIO_SUFFIXES]),
  }),
  template: z.string().min(1),
  destination: z.strictObject({ bucket, prefix: prefix.default('') }),
  priority: z.number().int().min(-1000).max(1000).default(0),
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(20).optional(),
      backoff: z
        .strictObject({
          initialSeconds: seconds.default(DEFAULT_BACKOFF.initialSeconds),
          maxSeconds: seconds.default(DEFAULT_BACKOFF.maxSeconds),
          multiplier: z.number().min(1).max(10).default(DEFAULT_BACKOFF.multiplier),
        })
        .refine((b) => b.maxSeconds >= b.initialSeconds, {
          message: 'maxSeconds must be at least initialSeconds',
          path: ['maxSeconds'],
        })
        .optional(),
    })
    .optional(),
  /**
   * Accelerated transcoding for this pipeline's jobs (issue 13): replaces the template's `chunking` (same
   * fields; `enabled` defaults to true here), so one template serves a chunked and a single-pass pipeline.
   */
  chunking: Chunking.extend({ enabled: z.boolean().default(true) }).optional(),
  /** Seed 002: JSON settings files under this prefix of the source bucket each make a job per upload. */
  settingsPrefix: prefix.refine((p) => p.endsWith('/'), 'a settings prefix ends with "/"').optional(),
});
export type PipelineSpec = z.infer<typeof PipelineSpec>;

export const NotificationsSpec = z.strictObject({
  /** Email on COMPLETE and ERROR (sent through SLUICE_SMTP_URL). */
  email: z.array(EmailRuleSpec).default([]),
});

export const ConfigFile = z.strictObject({
  pipelines: z.array(PipelineSpec).min(1, 'list at least one pipeline'),
  notifications: NotificationsSpec.optional(),
});

/** What a configuration file configures. */
export interface ConfigFileContents {
  pipelines: Pipeline[];
  emailRules: EmailRule[];
}

/** `pipelines[1].source.bucket` from zod's path. */
function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

function configError(file: string, errors: string[]): SluiceError {
  return new SluiceError(
    'CONFIG_INVALID',
    `${file} is not a valid configuration:\n  ${errors.join('\n  ')}`,
    { errors },
  );
}

/** The pipeline the job model runs, from its spec. */
export function pipelineOf(s: PipelineSpec): Pipeline {
  return {
    name: s.name,
    bucket: s.source.bucket,
    prefix: s.source.prefix,
    suffixes: s.source.suffixes,
    template: s.template,
    destinationBucket: s.destination.bucket,
    ...(s.destination.prefix ? { destinationPrefix: s.destination.prefix } : {}),
    ...(s.settingsPrefix ? { settingsPrefix: s.settingsPrefix } : {}),
    priority: s.priority,
    ...(s.retry ? { retry: s.retry } : {}),
    ...(s.chunking ? { chunking: s.chunking } : {}),
  };
}

/**
 * Parses and checks a configuration document: the schema, then what spans pipelines (unique names, no
 * destination that a pipeline watches) and the templates (each must exist). Every error is collected.
 */
export async function checkConfig(
  doc: unknown,
  file: string,
  templates: Pick<TemplateRegistry, 'get'>,
): Promise<Pipeline[]> {
  return (await checkConfigFile(doc, file, templates)).pipelines;
}

/** checkConfig, with the notifications section too. */
export async function checkConfigFile(
  doc: unknown,
  file: string,
  templates: Pick<TemplateRegistry, 'get'>,
): Promise<ConfigFileContents> {
  const parsed = ConfigFile.safeParse(doc);
  if (!parsed.success) {
    throw configError(
      file,
      parsed.error.issues.map((i) => `${fieldOf(i.path)}: ${i.message}`),
    );
  }
  const errors: string[] = [];
  const specs = parsed.data.pipelines;
  const sources = new Set(specs.map((s) => s.source.bucket));
  const seen = new Map<string, number>();
  const outputs = new Map<string, number>();
  for (const [i, s] of specs.entries()) {
    const at = `pipelines[${i}]`;
    const first = seen.get(s.name);
    if (first !== undefined)
      errors.push(`${at}.name: "${s.name}" is already the name of pipelines[${first}]; names are unique`);
    else seen.set(s.name, i);
    // Two pipelines that take the same object into the same place with the same template would publish
    // one output set twice, the later replacing the earlier.
    const set = JSON.stringify([s.source.bucket, s.template, s.destination.bucket, s.destination.prefix]);
    const same = outputs.get(set);
    if (same !== undefined) {
      errors.push(
        `${at}.destination: pipelines[${same}] has the same source bucket, template and destination; their jobs for one upload would publish into the same output set: give one a destination.prefix of its own`,
      );
    } else outputs.set(set, i);
    if (sources.has(s.destination.bucket)) {
      errors.push(
        `${at}.destination.bucket: "${s.destination.bucket}" is a source bucket a pipeline watches; its outputs would become new jobs: choose another bucket`,
      );
    }
    try {
      const template = await templates.get(s.template);
      // The pipeline's chunking must fit its template's segments (a whole number of them per chunk).
      if (s.chunking) {
        try {
          withChunking(template, s.chunking);
        } catch (err) {
          errors.push(`${at}.chunking: ${(err as Error).message.replace(/^.*? is not valid: /, '')}`);
        }
      }
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'TEMPLATE_NOT_FOUND')
        errors.push(
          `${at}.template: unknown template "${s.template}"; ${err.message.replace(/^[^;]*; /, '')}`,
        );
      else errors.push(`${at}.template: template "${s.template}" is not valid: ${(err as Error).message}`);
    }
  }
  const rules = parsed.data.notifications?.email ?? [];
  const ruleNames = new Map<string, number>();
  for (const [i, r] of rules.entries()) {
    const first = ruleNames.get(r.name);
    if (first !== undefined)
      errors.push(
        `notifications.email[${i}].name: "${r.name}" is already the name of notifications.email[${first}]; names are unique`,
      );
    else ruleNames.set(r.name, i);
  }
  if (errors.length > 0) throw configError(file, errors);
  return { pipelines: specs.map(pipelineOf), emailRules: rules.map(emailRuleOf) };
}

/** Reads and checks a configuration file's pipelines. */
export async function loadPipelineFile(
  file: string,
  templates: Pick<TemplateRegistry, 'get'>,
): Promise<Pipeline[]> {
  return (await loadConfigFile(file, templates)).pipelines;
}

/** Reads and checks a configuration file (`.json`: JSON; anything else: YAML, of which JSON is a part). */
export async function loadConfigFile(
  file: string,
  templates: Pick<TemplateRegistry, 'get'>,
): Promise<ConfigFileContents> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new SluiceError('CONFIG_INVALID', `cannot read the configuration file ${file}: ${err.message}`);
  });
  let doc: unknown;
  try {
    doc = file.toLowerCase().endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw configError(file, [
      `not valid ${file.toLowerCase().endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    ]);
  }
  return checkConfigFile(doc, file, templates);
}

/** Every source bucket the pipelines watch, once each, in order: one watcher (or event source) per bucket. */
export function sourceBucketsOf(pipelines: readonly Pipeline[]): string[] {
  return [...new Set(pipelines.map((p) => p.bucket))];
}

/** Every destination bucket the pipelines write to, once each. */
export function destinationBucketsOf(pipelines: readonly Pipeline[]): string[] {
  return [...new Set(pipelines.map((p) => p.destinationBucket))];
}
