// PUT /v1/uploads/<key>: an upload lands in the source bucket exactly as a file copied there would, and
// is ingested at once. Everything that can refuse the upload is checked before a byte is stored, and the
// body is taken as raw bytes whatever its content type, so a refused request changes nothing and a stored
// object is always the complete body.
import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import { requirePipelineMatch } from '../ingest/ingest.ts';
import { objectCreatedEvent } from '../ingest/object-event.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { TemplateRegistry } from '../templates/template-registry.ts';
import { jobView } from './job-view.ts';
import { limitStream } from './limit-stream.ts';

export interface UploadRouteDeps {
  objects: ObjectStore;
  ingest: Ingest;
  templates: TemplateRegistry;
  maxUploadBytes: number;
  /** Where uploads land: the source bucket (SLUICE_SOURCE_BUCKET). */
  bucket?: string;
}

export function registerUploadRoute(app: FastifyInstance, deps: UploadRouteDeps): void {
  // Its own encapsulated context: here no body is parsed (text/plain and JSON parsers would consume it),
  // every content type, or none (curl -T), reaches the handler as the raw request stream.
  const UPLOAD_BUCKET = deps.bucket ?? 'source';
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

    scope.put<{ Params: { '*': string }; Querystring: { template?: string } }>(
      '/v1/uploads/*',
      async (req, reply) => {
        // The router has already decoded the path once; decoding again would turn 100%25 into an error.
        const key = validateObjectKey(req.params['*']);
        const template = req.query.template;
        if (deps.ingest.isSettingsKey(UPLOAD_BUCKET, key)) {
          throw new SluiceError(
            'UPLOAD_KEY_RESERVED',
            `${key} is under a settings folder; settings files are placed there by the operator, not uploaded`,
          );
        }
        if (template) await deps.templates.get(template); // TEMPLATE_NOT_FOUND before storing anything
        requirePipelineMatch(deps.ingest.pipelinesFor(UPLOAD_BUCKET, key), key);
        const max = deps.maxUploadBytes;
        const declared = req.headers['content-length'];
        const expected = declared === undefined ? undefined : Number(declared);
        if (expected !== undefined && expected > max)
          throw new SluiceError('PAYLOAD_TOO_LARGE', `upload is ${expected} bytes; the limit is ${max}`);
        if (expected === 0)
          throw new SluiceError('INPUT_EMPTY', 'the upload is empty (0 bytes); nothing stored');
        const object = await deps.objects.put(UPLOAD_BUCKET, key, limitStream(req.raw, max), {
          minBytes: 1,
          ...(expected !== undefined ? { expectedBytes: expected } : {}),
        });
        const result = await deps.ingest.handle(
          objectCreatedEvent(object, 'sluice://api/uploads'),
          template ? { template } : {},
        );
        return reply.code(201).send({ object, jobs: result.jobs.map((j) => jobView(j)) });
      },
    );
  });
}
