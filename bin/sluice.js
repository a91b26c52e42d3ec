#!/usr/bin/env node
// Entry point of the `sluice` command, and of every worker process the scheduler launches. It runs the
// JavaScript that `npm ci` builds into dist/ (the `prepare` script) when that build is at least as new as
// every source file; otherwise (a source edited since, no build, or SLUICE_DEV=1) it runs the TypeScript
// sources through tsx's loader, so an edit is never shadowed by a stale build.
// Compiled modules are also kept as V8 code in Node's compile cache (inside node_modules, owned by whoever
// installed Sluice), so a worker process starts without parsing its modules again.
import './check-node.js';
import { readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// NODE_DISABLE_COMPILE_CACHE=1 turns it off (Node's own switch).
module.enableCompileCache?.(join(root, 'node_modules', '.cache', 'sluice-compile'));
const built = join(root, 'dist', 'cli', 'main.js');

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest modification time under a folder (about a hundred files: a millisecond or two). */
function newest(dir) {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : (mtime(p) ?? 0));
  }
  return max;
}

const buildTime = process.env.SLUICE_DEV ? null : mtime(built);
if (buildTime !== null && buildTime >= newest(join(root, 'src'))) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
