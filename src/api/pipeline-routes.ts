// GET /v1/pipelines: every pipeline this server runs, as it runs it: each default filled in (no
// destination prefix is "", no settings folder is null, priority 0, the attempts of the pipeline's
// template under the server's ceiling, the server's backoff), so the console shows what actually
// applies rather than what the configuration file happened to spell out.
import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../ingest/pipeline.ts';
import { DEFAULT_BACKOFF, type RetryBackoff } from '../jobs/retry-policy.ts';
import { applyCeilings, type Ceilings } from '../templates/ceilings.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';

export interface PipelineView {
  name: string;
  bucket: string;
  prefix: string;
  suffixes: string[];
  template: string;
  destinationBucket: string;
  destinationPrefix: string;
  settingsPrefix: string | null;
  priority: number;
  /** maxAttempts null: the template does not resolve (TEMPLATE_NOT_FOUND when a job is made). */
  retry: { maxAttempts: number | null; backoff: RetryBackoff };
}

export interface PipelineRouteDeps {
  pipelines: Pipeline[];
  templates: TemplateRegistry;
  ceilings?: Ceilings;
}

export async function pipelineView(p: Pipeline, deps: PipelineRouteDeps): Promise<PipelineView> {
  const ceiling = deps.ceilings?.maxAttempts ?? Number.POSITIVE_INFINITY;
  let maxAttempts: number | null = null;
  if (p.retry?.maxAttempts !== undefined) maxAttempts = Math.min(p.retry.maxAttempts, ceiling);
  else {
    const template = await deps.templates.get(p.template).catch(() => null);
    if (template)
      maxAttempts = deps.ceilings
        ? applyCeilings(template, deps.ceilings).template.maxAttempts
        : template.maxAttempts;
  }
  return {
    name: p.name,
    bucket: p.bucket,
    prefix: p.prefix,
    suffixes: [...p.suffixes],
    template: p.template,
    destinationBucket: p.destinationBucket,
    destinationPrefix: p.destinationPrefix ?? '',
    settingsPrefix: p.settingsPrefix ?? null,
    priority: p.priority ?? 0,
    retry: { maxAttempts, backoff: { ...(p.retry?.backoff ?? DEFAULT_BACKOFF) } },
  };
}

export function registerPipelineRoutes(app: FastifyInstance, deps: PipelineRouteDeps): void {
  app.get('/v1/pipelines', async () => ({
    pipelines: await Promise.all(deps.pipelines.map((p) => pipelineView(p, deps))),
  }));
}
