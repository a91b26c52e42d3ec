// GET /v1/openapi.json is a valid OpenAPI 3.1 document (checked with an independent validator) that
// describes every route the server registered, and GET /v1/docs renders it as a page without scripts.
// The API is built with every optional part on (pull workers, ingest events, metrics), on loopback HTTP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildApi, CreateJob } from '../../src/api/server.ts';
import { EventIntake } from '../../src/ingest/event-intake.ts';
import { SnsVerifier } from '../../src/ingest/notifications/sns.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { silentLog } from '../helpers.ts';
import { buildTestApi } from './test-api.ts';

async function fullApi(t: Parameters<typeof buildTestApi>[0]) {
  const base = await buildTestApi(t);
  const metrics = new Metrics({ store: base.store, localWorkers: () => 0 });
  const app = buildApi({
    store: base.store,
    workerTokens: base.store,
    templates: new TemplateRegistry(null),
    objects: base.objects,
    ingest: base.ingest,
    scheduler: base.scheduler,
    log: silentLog,
    defaultTemplate: 'abr-default',
    leaseMs: 30_000,
    heartbeatSeconds: 1,
    retryDelay: () => 0,
    version: 'test',
    metrics,
    ingestEvents: {
      intake: new EventIntake(base.ingest, base.objects, base.store, silentLog, async () => {}),
      sns: new SnsVerifier(),
      ingestToken: null,
      hmacSecret: null,
      snsTopics: [],
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { app, url };
}

/** `METHOD /path` of every route in Fastify's own route tree (printRoutes), independent of onRoute. */
function printedRoutes(app: FastifyInstance): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    const segment = m[2] ?? '';
    stack.length = depth;
    stack.push(segment);
    // A wildcard is printed without its prefix (`* (PUT)`): it cannot be placed, so it is left out here.
    if (segment.includes('*') || !m[3]) continue;
    for (const method of m[3].split(', ')) if (method !== 'HEAD') out.push(`${method} ${stack.join('')}`);
  }
  return out;
}

test('GET /v1/openapi.json is valid OpenAPI 3.1 and describes every registered route', async (t) => {
  const { app, url } = await fullApi(t);
  const res = await fetch(`${url}/v1/openapi.json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  };
  assert.match(doc.openapi, /^3\.1\./);

  const validator = new Validator();
  const result = await validator.validate(doc as never);
  assert.equal(result.valid, true, `not valid OpenAPI: ${JSON.stringify(result.errors, null, 2)}`);

  // Every route Fastify has (its own tree), described in the document.
  const described = new Set<string>();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) {
      described.add(`${method.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`);
    }
  }
  const printed = printedRoutes(app);
  assert.ok(printed.length > 30, `the route tree lists the routes (${printed.length})`);
  const missing = printed.filter((r) => !described.has(r));
  assert.deepEqual(
    missing,
    [],
    `routes registered without a description in src/api/openapi/route-docs.ts: ${missing.join(', ')}`,
  );
  // The wildcard routes the tree cannot place are there too.
  assert.ok(doc.paths['/v1/uploads/{key}']?.put, 'PUT /v1/uploads/* is described');
  assert.ok(doc.paths['/v1/worker/jobs/{id}/outputs/{key}']?.put, 'the outputs PUT is described');

  const create = doc.paths['/v1/jobs']?.post;
  // Request schemas are the ones the routes validate with, not copies: POST /v1/jobs's body is CreateJob.
  const body = (create as unknown as { requestBody: { content: Record<string, { schema: unknown }> } })
    ?.requestBody.content['application/json']?.schema;
  const { $schema: _d, ...expected } = z.toJSONSchema(CreateJob, { io: 'input' });
  assert.deepEqual(body, expected);
  assert.equal(
    (body as { additionalProperties?: boolean }).additionalProperties,
    false,
    'strict, as validated',
  );

  // Operation ids are unique; error answers are problem+json.
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  assert.ok(create?.responses['404'], 'POST /v1/jobs lists OBJECT_NOT_FOUND (404)');
  assert.match(JSON.stringify(create?.responses['404']), /OBJECT_NOT_FOUND.*application\/problem\+json/);
});

test('a route registered without a description is named', async (t) => {
  const { app } = await fullApi(t);
  const { undescribedRoutes } = await import('../../src/api/openapi/openapi-document.ts');
  const { routeDocs } = await import('../../src/api/openapi/route-docs.ts');
  const routes = printedRoutes(app).map((r) => {
    const [method = '', url = ''] = r.split(' ');
    return { method, url };
  });
  assert.deepEqual(undescribedRoutes(routes, routeDocs()), []);
  assert.deepEqual(undescribedRoutes([...routes, { method: 'GET', url: '/v1/webhooks' }], routeDocs()), [
    'GET /v1/webhooks',
  ]);
});

test('GET /v1/docs is a page rendered from the document, with no script and a CSP that forbids them', async (t) => {
  const { url } = await fullApi(t);
  const res = await fetch(`${url}/v1/docs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /script-src|unsafe-inline/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script/i);
  // The one style sheet is allowed by its hash, so a browser applies it under this CSP.
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(style).digest('base64');
  assert.ok(csp.includes(`style-src 'sha256-${hash}'`), csp);
  assert.match(html, /POST<\/span>\/v1\/jobs</);
  assert.match(html, /GET<\/span>\/v1\/ready</);
  // Text is escaped: the `<data-dir>` of a description never becomes a tag.
  assert.doesNotMatch(html, /<data-dir>/);
});
