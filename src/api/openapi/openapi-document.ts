// The OpenAPI 3.1 document of the routes a server registered (GET /v1/openapi.json), made from their
// descriptions (route-docs.ts) and the zod schemas the routes validate with: z.toJSONSchema gives JSON
// Schema 2020-12, the dialect of OpenAPI 3.1, so the document and the validation cannot drift apart.
import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../../errors.ts';
import { type Auth, ProblemSchema, type RouteDoc } from './route-doc.ts';

export interface RegisteredRoute {
  method: string;
  url: string;
}

/** `GET /v1/jobs/:id`: the key of a route in the description table. */
export function routeKey(r: RegisteredRoute): string {
  return `${r.method.toUpperCase()} ${r.url}`;
}

/**
 * The registered routes a document describes: every method of each, but not the HEAD that Fastify adds
 * for each GET on its own (it answers as the GET does, without a body).
 */
export function describedRoutes(routes: RegisteredRoute[]): RegisteredRoute[] {
  const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  const seen = new Set<string>();
  return routes.filter((r) => {
    const key = routeKey(r);
    if ((r.method === 'HEAD' && gets.has(r.url)) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The routes registered without a description: what the coverage test names. */
export function undescribedRoutes(routes: RegisteredRoute[], docs: Record<string, RouteDoc>): string[] {
  return describedRoutes(routes)
    .map(routeKey)
    .filter((k) => !Object.hasOwn(docs, k));
}

const SECURITY_SCHEMES = {
  apiToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'The API token in <data-dir>/api-token; needed only when the server listens beyond loopback.',
  },
  workerToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'A remote worker token (sluice_wt_…, `sluice workers token create`).',
  },
  leaseToken: {
    type: 'http',
    scheme: 'bearer',
    description: "The attempt's lease token, given with its assignment.",
  },
  ingestToken: {
    type: 'http',
    scheme: 'bearer',
    description:
      'SLUICE_INGEST_TOKEN (or an X-Sluice-Signature HMAC; SNS deliveries authenticate by their signature).',
  },
} as const;

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  none: [],
  'api-token': [{ apiToken: [] }],
  'worker-token': [{ workerToken: [] }],
  'lease-token': [{ leaseToken: [] }],
  'ingest-token': [{ ingestToken: [] }],
};

/** JSON Schema 2020-12 of a zod schema, as the request side sees it (defaults optional, coercions open). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function pathOf(url: string, wildcard: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, `{${wildcard}}`);
}

function operation(route: RegisteredRoute, doc: RouteDoc) {
  const wildcard = doc.wildcard ?? 'path';
  const parameters: Record<string, unknown>[] = [];
  for (const m of route.url.matchAll(/:([A-Za-z0-9_]+)|\*$/g)) {
    const name = m[1] ?? wildcard;
    parameters.push({
      name,
      in: 'path',
      required: true,
      ...(doc.params?.[name] ? { description: doc.params[name] } : {}),
      schema: { type: 'string' },
    });
  }
  if (doc.query) {
    for (const [name, field] of Object.entries(doc.query.shape as Record<string, z.ZodType>)) {
      parameters.push({
        name,
        in: 'query',
        required: !field.safeParse(undefined).success,
        schema: jsonSchema(field),
      });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    const type = r.contentType ?? 'application/json';
    const content: Record<string, unknown> = {};
    if (r.schema !== undefined || r.contentType)
      // As input: a plain z.object stays open (an added field is no breaking change), as answers are.
      content[type] = { schema: r.schema ? jsonSchema(r.schema) : {} };
    for (const other of r.alsoContentTypes ?? []) content[other] = { schema: {} };
    responses[status] = {
      description: r.description,
      ...(Object.keys(content).length > 0 ? { content } : {}),
    };
  }
  // Errors are problem+json (RFC 9457) with a stable code: one response per status, naming its codes.
  const byStatus = new Map<number, ErrorCode[]>();
  const codes: ErrorCode[] = [
    ...(doc.errors ?? []),
    ...(doc.auth === 'api-token' ? (['UNAUTHORIZED'] as const) : []),
  ];
  for (const code of new Set(codes)) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (responses[String(status)]) continue;
    responses[String(status)] = {
      description: list.map((c) => `${c}: ${ERROR_CATALOGUE[c].title}`).join('; '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    security: SECURITY[doc.auth],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            required: !doc.body.optional,
            content: {
              [doc.body.contentType ?? 'application/json']: {
                schema: doc.body.schema ? jsonSchema(doc.body.schema) : {},
              },
            },
          },
        }
      : {}),
    responses,
  };
}

export function openApiDocument(
  routes: RegisteredRoute[],
  docs: Record<string, RouteDoc>,
  info: { version: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of describedRoutes(routes)) {
    const doc = docs[routeKey(route)];
    if (!doc) continue; // named by the coverage test; a server still serves what it can describe
    const p = pathOf(route.url, doc.wildcard ?? 'path');
    paths[p] ??= {};
    paths[p][route.method.toLowerCase()] = operation(route, doc);
    tags.add(doc.tag);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Sluice',
      version: info.version,
      description:
        'Self-hosted media processing: jobs, uploads, templates, the Worker API. Every error is problem+json (RFC 9457) with a stable `code` (docs/errors.md).',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}
