// Ingest: an object event -> one job per matching pipeline (and settings file). The idempotency key
// (scope + bucket + key + etag) makes a repeated event return the job it already made, and the ingest
// ledger remembers it after the job itself is purged. A job for a newer version of a key supersedes the
// queued and running jobs of its older versions in the same scope.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { outputPrefixFor, validateBucketName, validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { applyCeilings, type Ceilings } from '../templates/ceilings.ts';
import { type Template, withChunking } from '../templates/template.ts';
import { type TemplateRegistry, templateFromJson, templateNameFor } from '../templates/template-registry.ts';
import type { ObjectEvent } from './object-event.ts';
import { idempotencyKey, matchPipelines, type Pipeline, versionGroup } from './pipeline.ts';
import type { SkipNotice } from './skip-log.ts';

const MAX_SETTINGS_BYTES = 256 * 1024;

export interface IngestResult {
  jobs: Job[];
  created: number;
}

export interface IngestHooks {
  onJobCreated?: () => void;
  /** Jobs a newer version of their input superseded: their workers are to be stopped. */
  onSuperseded?: (jobs: Job[]) => void;
  /** Server-wide limits no template may exceed. */
  ceilings?: Ceilings;
  /** An object event that makes no job (unknown suffix, invalid settings file): the user is told. */
  onSkipped?: (notice: SkipNotice) => Promise<void>;
}

export interface JobRequest {
  pipeline: string;
  /** What makes jobs of one object version distinct: the pipeline, its settings file, or `api:<template>`. */
  scope?: string;
  bucket: string;
  key: string;
  size?: number;
  etag: string;
  template: string | Template;
  destinationBucket?: string;
  /** Put before the job's own output prefix (`<key>/<template>`) in the destination. */
  destinationPrefix?: string;
  userMetadata?: Record<string, string>;
  /** The pipeline's priority, attempts and backoff (pipeline.ts); absent: 0, the template's, the server's. */
  priority?: number;
  retry?: Pipeline['retry'];
  /** The pipeline's chunking, in place of the template's. */
  chunking?: Pipeline['chunking'];
  /**
   * An object event (watcher, upload): a version whose job was purged is a replay and makes nothing. An
   * explicit API request instead makes a new job, and is told (409) when it differs from the live one.
   */
  source: 'event' | 'request';
}

export class Ingest {
  constructor(
    private readonly store: JobStore,
    private readonly objects: ObjectStore,
    private readonly pipelines: Pipeline[],
    private readonly templates: TemplateRegistry,
    private readonly log: Logger,
    private readonly hooks: IngestHooks = {},
  ) {}

  /** The pipelines an object event for this key would run (pure; nothing is read). */
  pipelinesFor(bucket: string, key: string): Pipeline[] {
    return matchPipelines(this.pipelines, bucket, key);
  }

  /** Keys under a pipeline's settings folder are job settings, which only the operator places. */
  isSettingsKey(bucket: string, key: string): boolean {
    return this.pipelines.some(
      (p) => p.bucket === bucket && p.settingsPrefix !== undefined && key.startsWith(p.settingsPrefix),
    );
  }

  /**
   * A destination must be a valid bucket name and never a bucket pipelines watch: outputs published
   * there would become inputs.
   */
  checkDestination(bucket: string): string {
    validateBucketName(bucket);
    if (this.pipelines.some((p) => p.bucket === bucket)) {
      throw new SluiceError(
        'INVALID_DESTINATION',
        `destination bucket "${bucket}" is watched for inputs: its outputs would become new jobs; choose another bucket (default "destination")`,
      );
    }
    return bucket;
  }

  /**
   * `template` overrides the pipelines' template (an upload that names one). The idempotency key stays
   * the pipeline's, so the bucket watcher seeing the same upload later finds this job, not a new one.
   */
  async handle(event: ObjectEvent, o: { template?: string } = {}): Promise<IngestResult> {
    const { bucket, key, size, etag } = event.data;
    validateObjectKey(key);
    const matched = matchPipelines(this.pipelines, bucket, key);
    const jobs: Job[] = [];
    let created = 0;
    if (matched.length === 0) {
      this.log.debug({ bucket, key }, 'no pipeline matches object');
      await this.reportUnmatched(bucket, key, etag);
      return { jobs, created };
    }
    // An event for a version that is no longer there (replaced since, or out of order) makes nothing:
    // the current version has, or will have, its own event.
    const current = await this.objects.stat(bucket, key);
    if (!current || current.etag !== etag) {
      this.log.info({ bucket, key, etag, current: current?.etag ?? null }, 'stale object event skipped');
      return { jobs, created };
    }
    for (const p of matched) {
      const settings = o.template ? [] : await this.settingsFiles(p);
      const requests =
        settings.length > 0
          ? settings.map((s) => ({ scope: `${p.name}:${s.key}`, template: s.template }))
          : [{ scope: p.name, template: o.template ?? p.template }];
      for (const req of requests) {
        const r = await this.createJob({
          pipeline: p.name,
          bucket,
          key,
          size,
          etag,
          destinationBucket: p.destinationBucket,
          ...(p.destinationPrefix ? { destinationPrefix: p.destinationPrefix } : {}),
          ...(p.priority !== undefined ? { priority: p.priority } : {}),
          ...(p.retry ? { retry: p.retry } : {}),
          ...(p.chunking ? { chunking: p.chunking } : {}),
          source: 'event',
          ...req,
        });
        if (!r) continue;
        jobs.push(r.job);
        if (r.created) created++;
      }
    }
    return { jobs, created };
  }

  /** Why an object event made no job: an unknown suffix, or a settings file (checked now, when placed). */
  private async reportUnmatched(bucket: string, key: string, etag: string): Promise<void> {
    const skipped = this.hooks.onSkipped;
    if (!skipped) return;
    if (this.isSettingsKey(bucket, key)) {
      if (!key.toLowerCase().endsWith('.json')) {
        await skipped({
          bucket,
          key,
          reason: 'UNKNOWN_SUFFIX',
          version: etag,
          message: 'the settings folder holds .json template files only; this file is not read',
        });
        return;
      }
      try {
        const text = (await this.objects.read(bucket, key, MAX_SETTINGS_BYTES)).toString('utf8');
        templateFromJson(text, `${bucket}/${key}`, templateNameFor(key));
      } catch (err) {
        await skipped({
          bucket,
          key,
          reason: 'INVALID_SETTINGS',
          version: etag,
          message: `settings file not used: ${(err as Error).message}`,
        });
      }
      return;
    }
    const watching = this.pipelines.filter((p) => p.bucket === bucket);
    const under = watching.filter((p) => key.startsWith(p.prefix));
    if (under.length === 0 && watching.length > 0) {
      const prefixes = [...new Set(watching.map((p) => p.prefix))];
      await skipped({
        bucket,
        key,
        reason: 'OUTSIDE_PREFIX',
        version: null,
        message: `no pipeline watches this folder; the pipelines of bucket ${bucket} take keys under ${prefixes.join(', ')}`,
      });
      return;
    }
    const suffixes = [...new Set(under.flatMap((p) => p.suffixes))];
    await skipped({
      bucket,
      key,
      reason: 'UNKNOWN_SUFFIX',
      version: null,
      message: `no pipeline takes this file's suffix; media files end in ${suffixes.join(', ')}`,
    });
  }

  /** The valid settings files under a pipeline's settings prefix; invalid ones are reported and skipped. */
  private async settingsFiles(p: Pipeline): Promise<{ key: string; template: Template }[]> {
    if (!p.settingsPrefix) return [];
    const files = (await this.objects.list(p.bucket, p.settingsPrefix))
      .filter((o) => o.key.toLowerCase().endsWith('.json'))
      .sort((a, b) => a.key.localeCompare(b.key));
    const out: { key: string; template: Template }[] = [];
    for (const f of files) {
      try {
        const text = (await this.objects.read(p.bucket, f.key, MAX_SETTINGS_BYTES)).toString('utf8');
        out.push({
          key: f.key,
          template: templateFromJson(text, `${p.bucket}/${f.key}`, templateNameFor(f.key)),
        });
      } catch (err) {
        this.log.error(
          { key: f.key, err: (err as Error).message },
          'settings file skipped: not a valid template',
        );
        await this.hooks.onSkipped?.({
          bucket: p.bucket,
          key: f.key,
          reason: 'INVALID_SETTINGS',
          version: f.etag,
          message: `settings file not used: ${(err as Error).message}`,
        });
      }
    }
    return out;
  }

  /**
   * A job for one object version and template. Same version and same `scope` = same job. Returns null
   * for an object event whose version was ingested before and whose job has been purged since.
   */
  async createJob(req: JobRequest & { source: 'request' }): Promise<{ job: Job; created: boolean }>;
  async createJob(req: JobRequest): Promise<{ job: Job; created: boolean } | null>;
  async createJob(req: JobRequest): Promise<{ job: Job; created: boolean } | null> {
    validateObjectKey(req.key);
    const destinationBucket = this.checkDestination(
      req.destinationBucket ?? this.pipelines[0]?.destinationBucket ?? 'destination',
    );
    const named = typeof req.template === 'string' ? await this.templates.get(req.template) : req.template;
    // A pipeline's chunking replaces its template's (checked against the template when the file loaded).
    const asked = req.chunking ? withChunking(named, req.chunking) : named;
    const { template, lowered } = this.hooks.ceilings
      ? applyCeilings(asked, this.hooks.ceilings)
      : { template: asked, lowered: [] };
    const scope = req.scope ?? req.pipeline;
    const idem = idempotencyKey(scope, req.bucket, req.key, req.etag);
    if (req.source === 'event') {
      const seen = await this.store.ingested(idem);
      if (seen && !(await this.store.get(seen.jobId))) {
        this.log.info(
          { key: req.key, scope, jobId: seen.jobId, ingestedAt: seen.ingestedAt },
          'object version already ingested (its job was purged): no new job',
        );
        return null;
      }
    }
    const userMetadata = req.userMetadata ?? {};
    // A pipeline's attempts stay under the server's ceiling, as a template's do.
    const askedAttempts = req.retry?.maxAttempts;
    const maxAttempts =
      askedAttempts === undefined
        ? undefined
        : Math.min(askedAttempts, this.hooks.ceilings?.maxAttempts ?? askedAttempts);
    const result = await this.store.create(
      {
        pipeline: req.pipeline,
        input: { bucket: req.bucket, key: req.key, size: req.size, etag: req.etag },
        templateName: template.name,
        template,
        destination: {
          bucket: destinationBucket,
          prefix: `${req.destinationPrefix ?? ''}${outputPrefixFor(req.key, template.name)}`,
        },
        userMetadata,
        idempotencyKey: idem,
        versionGroup: versionGroup(scope, req.bucket, req.key),
        ...(lowered.length > 0 ? { limitsLowered: lowered } : {}),
        ...(maxAttempts !== undefined ? { maxAttempts } : {}),
        ...(req.priority !== undefined ? { priority: req.priority } : {}),
        ...(req.retry?.backoff ? { retryBackoff: req.retry.backoff } : {}),
      },
      new Date(),
    );
    const { job } = result;
    if (!result.created && req.source === 'request') {
      const differs: string[] = [];
      // Only what the request states is compared: leaving a field out asks for no particular value.
      if (req.destinationBucket !== undefined && job.destination.bucket !== destinationBucket)
        differs.push('destinationBucket');
      if (req.userMetadata !== undefined && !isDeepStrictEqual(job.userMetadata, userMetadata))
        differs.push('userMetadata');
      if (differs.length > 0) {
        throw new SluiceError(
          'JOB_CONFLICT',
          `job ${job.id} already exists for this object version and template with another ${differs.join(' and ')}; upload a new version, or use another template, to run it differently`,
          { job },
        );
      }
    }
    if (result.created) {
      this.log.info(
        { jobId: job.id, key: req.key, template: template.name, limitsLowered: lowered },
        'job created',
      );
      const superseded = await this.store.supersede(job.versionGroup, job.id, new Date());
      if (superseded.length > 0) {
        this.log.info(
          { jobId: job.id, superseded: superseded.map((j) => j.id) },
          'older versions of the input superseded',
        );
        this.hooks.onSuperseded?.(superseded);
      }
      this.hooks.onJobCreated?.();
    }
    return result;
  }
}

export function requirePipelineMatch<T>(matched: T[], key: string): T[] {
  if (matched.length === 0) {
    throw new SluiceError(
      'NO_MATCHING_PIPELINE',
      `no pipeline takes ${key}; the default pipeline takes video files (.mp4, .mov, .mkv, .webm, ...) and audio files (.m4a, .mp3, .wav, .flac, .aac, .ogg, .opus, ...); rename the file with its format's suffix`,
    );
  }
  return matched;
}
