// Refuses a Node.js older than Sluice supports with a sentence and a stable code, before anything loads
// (better-sqlite3 13 crashes on Node 20 with a segmentation fault). Imported first by bin/sluice.js and run
// before `npm test` (the `pretest` script).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `error NODE_TOO_OLD: Sluice needs Node.js 22.12 or newer (24 LTS recommended); this is ${process.version}.\n` +
      '  Install a current Node.js, or on a machine without one run `. scripts/use-node.sh 24` in this shell\n' +
      '  (the official Node 24 build from the npm registry, put first on PATH), then npm ci again.\n',
  );
  process.exit(1);
}
