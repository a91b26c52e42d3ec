// GET /v1/openapi.json (the OpenAPI 3.1 document of the routes this server registered) and GET /v1/docs
// (the same as a readable page, rendered here: no script at all and no CDN, under a Content-Security-Policy
// that allows only the page's own style sheet by its hash). Both are public: they say what the source
// code says, and a browser opening the page sends no bearer token.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { openApiDocument, type RegisteredRoute } from './openapi-document.ts';
import { renderReference } from './reference-page.ts';
import { routeDocs } from './route-docs.ts';

export const OPENAPI_ROUTE = '/v1/openapi.json';
export const DOCS_ROUTE = '/v1/docs';
export const PUBLIC_DOC_ROUTES = [OPENAPI_ROUTE, DOCS_ROUTE] as const;

/** Every route registered on `app` from now on (add before any route), as Fastify registered it. */
export function collectRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url });
  });
  return routes;
}

export function registerDocsRoutes(
  app: FastifyInstance,
  o: { routes: RegisteredRoute[]; version: string },
): void {
  // Made once, on first request: every route is registered by then.
  let document: Record<string, unknown> | null = null;
  let page: { html: string; csp: string } | null = null;
  const doc = () => {
    document ??= openApiDocument(o.routes, routeDocs(), { version: o.version });
    return document;
  };
  app.get(OPENAPI_ROUTE, async () => doc());
  app.get(DOCS_ROUTE, async (_req, reply) => {
    if (!page) {
      const { html, style } = renderReference(doc());
      const hash = createHash('sha256').update(style).digest('base64');
      page = {
        html,
        csp: `default-src 'none'; style-src 'sha256-${hash}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      };
    }
    return reply
      .header('content-security-policy', page.csp)
      .header('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
      .send(page.html);
  });
}
