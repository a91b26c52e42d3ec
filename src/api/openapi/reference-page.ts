// The API reference page (GET /v1/docs), rendered from the OpenAPI document on the server: plain HTML,
// every text escaped, one style sheet (its hash goes into the page's Content-Security-Policy), no script.

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
section.op{margin:1.2rem 0;padding:.6rem .9rem;border:1px solid #ddd;border-radius:6px}
h3{margin:.2rem 0;font-size:1.05rem;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:3.6rem;font-weight:700}
.auth{color:#555;font-size:.9rem}table{border-collapse:collapse;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:.85rem}
details summary{cursor:pointer;color:#333}`;

const AUTH: Record<string, string> = {
  apiToken: 'API token (when the server listens beyond loopback)',
  workerToken: 'worker token',
  leaseToken: "the attempt's lease token",
  ingestToken: 'ingest token or signature',
};

export function escapeHtml(s: unknown): string {
  return String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

type Obj = Record<string, unknown>;

function schemaBlock(label: string, schema: unknown): string {
  if (!schema || (typeof schema === 'object' && Object.keys(schema).length === 0)) return '';
  return `<details><summary>${escapeHtml(label)}</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`;
}

function renderOperation(method: string, path: string, op: Obj): string {
  const security = (op.security as Obj[] | undefined) ?? [];
  const auth = security.length
    ? security.flatMap((s) => Object.keys(s).map((k) => AUTH[k] ?? k)).join(', ')
    : 'none';
  const params = (op.parameters as Obj[] | undefined) ?? [];
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td><code>${escapeHtml(JSON.stringify(p.schema))}</code>${p.description ? ` ${escapeHtml(p.description)}` : ''}</td></tr>`,
    )
    .join('');
  const body = op.requestBody as Obj | undefined;
  const bodyContent = (body?.content ?? {}) as Record<string, Obj>;
  const bodyHtml = Object.entries(bodyContent)
    .map(
      ([type, c]) =>
        `<p>Body: <code>${escapeHtml(type)}</code>${body?.required ? '' : ' (optional)'}</p>${schemaBlock('Body schema', c.schema)}`,
    )
    .join('');
  const responses = Object.entries((op.responses ?? {}) as Record<string, Obj>)
    .map(([status, r]) => {
      const content = (r.content ?? {}) as Record<string, Obj>;
      const types = Object.keys(content);
      const schema = types[0] ? content[types[0]]?.schema : null;
      // problem+json answers all share one schema (components): the codes are in the description.
      const ref = typeof schema === 'object' && schema !== null && '$ref' in schema;
      return `<tr><td>${escapeHtml(status)}</td><td>${escapeHtml(r.description)}${types.length ? ` <code>${escapeHtml(types.join(', '))}</code>` : ''}${schema && !ref ? schemaBlock('Schema', schema) : ''}</td></tr>`;
    })
    .join('');
  return `<section class="op" id="${escapeHtml(op.operationId)}"><h3><span class="m">${escapeHtml(method.toUpperCase())}</span>${escapeHtml(path)}</h3>
<p>${escapeHtml(op.summary)}</p>${op.description ? `<p>${escapeHtml(op.description)}</p>` : ''}
<p class="auth">Auth: ${escapeHtml(auth)}</p>
${rows ? `<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Schema</th></tr>${rows}</table>` : ''}
${bodyHtml}
<table><tr><th>Status</th><th>Answer</th></tr>${responses}</table></section>`;
}

/** The page and its style sheet (whose hash the caller puts into the CSP). */
export function renderReference(doc: Obj): { html: string; style: string } {
  const info = (doc.info ?? {}) as Obj;
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Obj>)) {
    for (const [method, op] of Object.entries(item as Record<string, Obj>)) {
      const tag = ((op.tags as string[] | undefined) ?? ['Other'])[0] ?? 'Other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(method, path, op)]);
    }
  }
  const toc = [...byTag.keys()]
    .map((t) => `<li><a href="#tag-${escapeHtml(t.replace(/\W+/g, '-'))}">${escapeHtml(t)}</a></li>`)
    .join('');
  const sections = [...byTag]
    .map(
      ([t, ops]) =>
        `<h2 id="tag-${escapeHtml(t.replace(/\W+/g, '-'))}">${escapeHtml(t)}</h2>${ops.join('\n')}`,
    )
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(info.title)} API ${escapeHtml(info.version)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(info.title)} API <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>Machine-readable: <a href="/v1/openapi.json">/v1/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> with a stable <code>code</code>.</p>
<ul>${toc}</ul>
${sections}
</body></html>`;
  return { html, style: STYLE };
}
