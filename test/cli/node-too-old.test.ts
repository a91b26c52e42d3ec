// A Node.js older than Sluice supports gets a sentence and NODE_TOO_OLD, not better-sqlite3's segmentation
// fault. It needs such a Node: this machine kind's own /usr/bin/node (20) is one; elsewhere the test skips
// and says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '../..');
const OLD_NODE = process.env.OLD_NODE ?? '/usr/bin/node';

function oldNodeVersion(): string | null {
  const r = spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [major, minor] = r.stdout.trim().split('.').map(Number);
  return (major ?? 0) < 22 || (major === 22 && (minor ?? 0) < 12) ? r.stdout.trim() : null;
}

const version = oldNodeVersion();

test('sluice on a Node older than 22.12 refuses with NODE_TOO_OLD and says what to do', {
  skip: version ? false : `no Node older than 22.12 at ${OLD_NODE} (set OLD_NODE to one)`,
}, () => {
  for (const args of [['bin/sluice.js', '--help'], ['bin/sluice.js', 'serve'], ['bin/check-node.js']]) {
    const r = spawnSync(OLD_NODE, args, { cwd: root, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status} signal ${r.signal}\n${r.stderr}`);
    assert.match(r.stderr, /^error NODE_TOO_OLD: Sluice needs Node\.js 22\.12 or newer/);
    assert.ok(r.stderr.includes(`this is v${version}`), r.stderr);
    assert.match(r.stderr, /scripts\/use-node\.sh 24/);
    assert.equal(r.stdout, '');
  }
});
