// POST /v1/plan/file?template=&name=: the dry run of POST /v1/plan for a file the user has not uploaded
// (the console's "Preview plan"). The raw body is written to a scratch folder under the same size limit
// and slow-client guard as an upload (server.ts lists the route with the uploads), probed under the same
// concurrency bound as POST /v1/plan, and always removed: nothing is stored in a bucket or ingested.
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SluiceError } from '../errors.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { planJob } from '../templates/ladder.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';
import type { ConcurrencyLimit } from './concurrency-limit.ts';
import { limitStream } from './limit-stream.ts';
import { parseBody } from './validate.ts';

export const PLAN_FILE_ROUTE = '/v1/plan/file';

export const PlanFileQuery = z.strictObject({
  template: z.string().min(1).optional(),
  name: z.string().min(1).max(255).optional(),
});

export interface PlanFileDeps {
  objects: Pick<ObjectStore, 'workDir'>;
  templates: TemplateRegistry;
  defaultTemplate: string;
  maxUploadBytes: number;
  probes: ConcurrencyLimit;
  probe: (file: string, timeoutMs: number | undefined, shownAs: string) => Promise<MediaInfo>;
}

export function registerPlanFileRoute(app: FastifyInstance, deps: PlanFileDeps): void {
  // Its own context, as the upload route: the body reaches the handler as the raw request stream.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    scope.post(PLAN_FILE_ROUTE, async (req) => {
      const q = parseBody(PlanFileQuery, req.query, 'query');
      // TEMPLATE_NOT_FOUND before a byte is written.
      const template = await deps.templates.get(q.template ?? deps.defaultTemplate);
      const max = deps.maxUploadBytes;
      const declared = req.headers['content-length'];
      const expected = declared === undefined ? undefined : Number(declared);
      if (expected !== undefined && expected > max)
        throw new SluiceError('PAYLOAD_TOO_LARGE', `the file is ${expected} bytes; the limit is ${max}`);
      if (expected === 0) throw new SluiceError('INPUT_EMPTY', 'the file is empty (0 bytes)');
      // The user's file name is only a label in messages: the scratch file has a fixed name.
      const shownAs = q.name ?? 'the file';
      const dir = await deps.objects.workDir('plan-file-');
      try {
        const file = path.join(dir, 'input');
        await pipeline(limitStream(req.raw, max), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
        const { size } = await fs.stat(file);
        if (size === 0) throw new SluiceError('INPUT_EMPTY', 'the file is empty (0 bytes)');
        if (expected !== undefined && size !== expected) {
          throw new SluiceError(
            'UPLOAD_INCOMPLETE',
            `the file ended after ${size} of the ${expected} bytes it declared`,
          );
        }
        const media = await deps.probes.run(() => deps.probe(file, undefined, shownAs));
        return { template: template.name, input: media, plan: planJob(template, media) };
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });
}
