// Builds the web console (src/console/, browser TypeScript) into dist/console/: `npm run build` runs it
// after tsc, so `npm ci` (prepare) makes it. esbuild bundles the app and the login page, each with its
// style sheet, under content-hashed names in assets/ (served as immutable); the two HTML pages name them
// and carry no script or style of their own (the console's Content-Security-Policy forbids inline ones).
// Every asset also gets a .gz twin, served when the browser accepts gzip. errors.json (the job page's
// hint under an error code) is read from docs/errors.md.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { extractErrorHints } from './error-hints.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {{ outDir?: string, minify?: boolean }} [o]
 * @returns {Promise<{ outDir: string, files: string[] }>} the files written, relative to outDir
 */
export async function buildConsole(o = {}) {
  const outDir = o.outDir ?? path.join(root, 'dist', 'console');
  const src = path.join(root, 'src', 'console');
  const assets = path.join(outDir, 'assets');
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(assets, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(src, 'app.ts'), login: path.join(src, 'login.ts') },
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: o.minify ?? true,
    sourcemap: false,
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const errors = `${JSON.stringify(extractErrorHints(await fs.readFile(path.join(root, 'docs', 'errors.md'), 'utf8')))}\n`;
  const errorsName = `errors-${createHash('sha256').update(errors).digest('hex').slice(0, 8)}.json`;
  await fs.writeFile(path.join(assets, errorsName), errors);

  /** The script and style sheet esbuild made for an entry point, as absolute paths (the CSP's base-uri 'none' allows no <base>). */
  const outputsOf = (entry) => {
    const out = Object.entries(result.metafile.outputs).find(([, v]) =>
      v.entryPoint?.endsWith(`${entry}.ts`),
    );
    if (!out) throw new Error(`esbuild made no output for ${entry}.ts`);
    const rel = (file) => `/console/assets/${path.basename(file)}`;
    return { script: rel(out[0]), style: out[1].cssBundle ? rel(out[1].cssBundle) : null };
  };
  const app = outputsOf('app');
  const login = outputsOf('login');
  await fs.writeFile(
    path.join(outDir, 'index.html'),
    page('Sluice console', app, `<meta name="sluice-errors" content="/console/assets/${errorsName}">`),
  );
  await fs.writeFile(path.join(outDir, 'login.html'), page('Sign in · Sluice', login, ''));

  const files = [];
  for (const dir of [outDir, assets]) {
    for (const name of await fs.readdir(dir)) {
      const file = path.join(dir, name);
      if (!(await fs.stat(file)).isFile()) continue;
      files.push(path.relative(outDir, file));
      await fs.writeFile(`${file}.gz`, gzipSync(await fs.readFile(file), { level: 9 }));
    }
  }
  return { outDir, files: files.sort() };
}

/** An HTML page with nothing inline: the script and style sheet by URL. */
function page(title, { script, style }, head) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>${title}</title>
${style ? `<link rel="stylesheet" href="${style}">\n` : ''}${head ? `${head}\n` : ''}<script type="module" src="${script}"></script>
</head>
<body>
<noscript>The Sluice console needs JavaScript. The API reference is at <a href="/v1/docs">/v1/docs</a>.</noscript>
</body>
</html>
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outDir, files } = await buildConsole();
  console.log(`console built into ${path.relative(root, outDir)}/ (${files.length} files)`);
}
