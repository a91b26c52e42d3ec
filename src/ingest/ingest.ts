// Ingest: an object event -> one job per matching pipeline. The idempotency key (pipeline + bucket + key +
// etag) makes a repeated event return the job it already made.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { outputPrefixFor, validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { applyCeilings, type Ceilings } from '../templates/ceilings.ts';
import type { Template } from '../templates/template.ts';
import { type TemplateRegistry, templateFromJson, templateNameFor } from '../templates/template-registry.ts';
import type { ObjectEvent } from './object-event.ts';
import { idempotencyKey, matchPipelines, type Pipeline } from './pipeline.ts';

const MAX_SETTINGS_BYTES = 256 * 1024;

export interface IngestResult {
  jobs: Job[];
  created: number;
}

export class Ingest {
  constructor(
    private readonly store: JobStore,
    private readonly objects: ObjectStore,
    private readonly pipelines: Pipeline[],
    private readonly templates: TemplateRegistry,
    private readonly log: Logger,
    private readonly onJobCreated: () => void = () => {},
    private readonly ceilings: Ceilings | null = null,
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
   * `template` overrides the pipelines' template (an upload that names one). The idempotency key stays
   * the pipeline's, so the bucket watcher seeing the same upload later finds this job, not a new one.
   */
  async handle(event: ObjectEvent, o: { template?: string } = {}): Promise<IngestResult> {
    const { bucket, key, size, etag } = event.data;
    validateObjectKey(key);
    const matched = matchPipelines(this.pipelines, bucket, key);
    const jobs: Job[] = [];
    let created = 0;
    for (const p of matched) {
      const settings = o.template ? [] : await this.settingsFiles(p);
      const requests =
        settings.length > 0
          ? settings.map((s) => ({ scope: `${p.name}:${s.key}`, template: s.template }))
          : [{ scope: p.name, template: o.template ?? p.template }];
      for (const req of requests) {
        const r = await this.createJob({ pipeline: p.name, bucket, key, size, etag, ...req });
        jobs.push(r.job);
        if (r.created) created++;
      }
    }
    if (matched.length === 0) this.log.debug({ bucket, key }, 'no pipeline matches object');
    return { jobs, created };
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
      }
    }
    return out;
  }

  /**
   * A job for one object and template. Same object version and same `scope` (default: the pipeline)
   * = same job: `POST /v1/jobs` scopes by template, so asking for another template makes another job.
   */
  async createJob(req: {
    pipeline: string;
    scope?: string;
    bucket: string;
    key: string;
    size?: number;
    etag: string;
    template: string | Template;
    destinationBucket?: string;
    userMetadata?: Record<string, string>;
  }): Promise<{ job: Job; created: boolean }> {
    validateObjectKey(req.key);
    const asked = typeof req.template === 'string' ? await this.templates.get(req.template) : req.template;
    const { template, lowered } = this.ceilings
      ? applyCeilings(asked, this.ceilings)
      : { template: asked, lowered: [] };
    const result = await this.store.create(
      {
        pipeline: req.pipeline,
        input: { bucket: req.bucket, key: req.key, size: req.size, etag: req.etag },
        templateName: template.name,
        template,
        destination: { bucket: req.destinationBucket ?? 'destination', prefix: outputPrefixFor(req.key) },
        userMetadata: req.userMetadata ?? {},
        idempotencyKey: idempotencyKey(req.scope ?? req.pipeline, req.bucket, req.key, req.etag),
        ...(lowered.length > 0 ? { limitsLowered: lowered } : {}),
      },
      new Date(),
    );
    if (result.created) {
      this.log.info(
        { jobId: result.job.id, key: req.key, template: template.name, limitsLowered: lowered },
        'job created',
      );
      this.onJobCreated();
    }
    return result;
  }
}

export function requirePipelineMatch<T>(matched: T[], key: string): T[] {
  if (matched.length === 0) {
    throw new SluiceError(
      'NO_MATCHING_PIPELINE',
      `no pipeline takes ${key}; the default pipeline takes video files (.mp4, .mov, .mkv, .webm, ...)`,
    );
  }
  return matched;
}
