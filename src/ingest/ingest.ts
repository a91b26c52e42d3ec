// Ingest: an object event -> one job per matching pipeline. The idempotency key (pipeline + bucket + key +
// etag) makes a repeated event return the job it already made.
import type { Logger } from 'pino';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import type { JobStore } from '../jobs/job-store.ts';
import { outputPrefixFor, validateObjectKey } from '../storage/object-key.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';
import type { ObjectEvent } from './object-event.ts';
import { idempotencyKey, matchPipelines, type Pipeline } from './pipeline.ts';

export interface IngestResult {
  jobs: Job[];
  created: number;
}

export class Ingest {
  constructor(
    private readonly store: JobStore,
    private readonly pipelines: Pipeline[],
    private readonly templates: TemplateRegistry,
    private readonly log: Logger,
    private readonly onJobCreated: () => void = () => {},
  ) {}

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
      const template = o.template ?? p.template;
      const r = await this.createJob({ pipeline: p.name, bucket, key, size, etag, template });
      jobs.push(r.job);
      if (r.created) created++;
    }
    if (matched.length === 0) this.log.debug({ bucket, key }, 'no pipeline matches object');
    return { jobs, created };
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
    template: string;
    destinationBucket?: string;
    userMetadata?: Record<string, string>;
  }): Promise<{ job: Job; created: boolean }> {
    validateObjectKey(req.key);
    const template = await this.templates.get(req.template);
    const result = await this.store.create(
      {
        pipeline: req.pipeline,
        input: { bucket: req.bucket, key: req.key, size: req.size, etag: req.etag },
        templateName: template.name,
        template,
        destination: { bucket: req.destinationBucket ?? 'destination', prefix: outputPrefixFor(req.key) },
        userMetadata: req.userMetadata ?? {},
        idempotencyKey: idempotencyKey(req.scope ?? req.pipeline, req.bucket, req.key, req.etag),
      },
      new Date(),
    );
    if (result.created) {
      this.log.info({ jobId: result.job.id, key: req.key, template: template.name }, 'job created');
      this.onJobCreated();
    }
    return result;
  }
}

export function requirePipelineMatch(result: IngestResult, key: string): IngestResult {
  if (result.jobs.length === 0) {
    throw new SluiceError(
      'NO_MATCHING_PIPELINE',
      `no pipeline takes ${key}; the default pipeline takes video files (.mp4, .mov, .mkv, .webm, ...)`,
    );
  }
  return result;
}
