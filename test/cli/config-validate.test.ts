// `sluice config validate [FILE]` as a user runs it (the real CLI process): a valid YAML or JSON file
// prints its pipelines with every default filled in; a file with mistakes prints every error, each
// naming the file, the pipeline and the field, and exits 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers.ts';

const run = promisify(execFile);
const SLUICE = path.resolve('bin/sluice.js');

async function sluice(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SLUICE, ...args], {
      timeout: 30_000,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const VALID_YAML = `# seed 003: one upload under inputs/ fanned out to a 720p and a 1080p pipeline
pipelines:
  - name: hls-720p
    source: { bucket: source, prefix: inputs/, suffixes: [.MP4] }
    template: hls-720p
    destination: { bucket: destination, prefix: 720p/ }
    priority: 10
    retry:
      maxAttempts: 2
      backoff: { initialSeconds: 5, maxSeconds: 60 }
  - name: hls-1080p
    source: { bucket: source, prefix: inputs/ }
    template: small
    destination: { bucket: destination, prefix: 1080p/ }
`;

test('sluice config validate: a valid YAML file lists its pipelines with defaults; SLUICE_CONFIG names it too', async (t) => {
  const dir = await tempDir(t);
  await fs.mkdir(path.join(dir, 'templates'));
  await fs.writeFile(
    path.join(dir, 'templates', 'small.json'),
    JSON.stringify({ ladder: [{ name: '90p', height: 90, videoBitrateKbps: 100 }] }),
  );
  const file = path.join(dir, 'sluice.yaml');
  await fs.writeFile(file, VALID_YAML);
  const r = await sluice({}, '--data-dir', dir, 'config', 'validate', file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sluice\.yaml: 2 pipelines, valid/);
  assert.match(r.stdout, /hls-720p\n {2}source: {7}source\/inputs\/ {2}\(\.mp4\)/, 'suffixes lower-cased');
  assert.match(r.stdout, /destination: {2}destination\/720p\//);
  assert.match(r.stdout, /priority: {5}10/);
  assert.match(r.stdout, /retry: {8}2 attempts; backoff 5 s x2 up to 60 s\n/);
  assert.match(
    r.stdout,
    /hls-1080p\n {2}source: {7}source\/inputs\/ {2}\(\.mp4 \.mov .*\.opus .*\)/,
    'default suffixes',
  );
  assert.match(r.stdout, /priority: {5}0\n/);
  assert.match(r.stdout, /retry: {8}the template's attempts; backoff 2 s x2 up to 300 s \(the server's\)/);

  const viaEnv = await sluice({ SLUICE_CONFIG: file }, '--data-dir', dir, 'config', 'validate', '--json');
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const json = JSON.parse(viaEnv.stdout);
  assert.deepEqual(
    json.pipelines.map((p: { name: string; priority: number }) => [p.name, p.priority]),
    [
      ['hls-720p', 10],
      ['hls-1080p', 0],
    ],
  );
  assert.deepEqual(json.pipelines[0].retry, {
    maxAttempts: 2,
    backoff: { initialSeconds: 5, maxSeconds: 60, multiplier: 2 },
  });
});

test('sluice config validate: every mistake is listed with the file, the pipeline and the field; exit 1', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'bad.json');
  await fs.writeFile(
    file,
    JSON.stringify({
      pipelines: [
        {
          name: 'a',
          source: { bucket: 'source', prefix: 'inputs/' },
          template: 'hls-720p',
          destination: { bucket: 'out' },
        },
        { name: 'b', source: { bucket: 'source' }, template: 'abr-1080', destination: { bucket: 'out' } },
        { name: 'a', source: { bucket: 'other' }, template: 'hls-720p', destination: { bucket: 'source' } },
        {
          name: 'd',
          source: { bucket: 'source', prefix: 'x/' },
          template: 'hls-720p',
          destination: { bucket: 'out' },
        },
      ],
    }),
  );
  const r = await sluice({}, '--data-dir', dir, 'config', 'validate', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sluice: CONFIG_INVALID: .*bad\.json is not a valid configuration/);
  assert.match(r.stderr, /pipelines\[1\]\.template: unknown template "abr-1080"; available: abr-default/);
  assert.match(r.stderr, /pipelines\[2\]\.name: "a" is already the name of pipelines\[0\]/);
  assert.match(
    r.stderr,
    /pipelines\[2\]\.destination\.bucket: "source" is a source bucket a pipeline watches/,
  );
  assert.match(
    r.stderr,
    /pipelines\[3\]\.destination: pipelines\[0\] has the same source bucket, template and destination/,
  );

  await fs.writeFile(
    file,
    JSON.stringify({
      pipelines: [
        {
          name: 'Bad Name',
          source: { bucket: 'source', prefix: '../up', suffixes: ['mp4'] },
          template: 'hls-720p',
          destination: { bucket: 'out', prefiks: 'x/' },
          priority: 1.5,
          retry: { backoff: { initialSeconds: 10, maxSeconds: 5 } },
        },
      ],
      server: { port: 1 },
    }),
  );
  const s = await sluice({}, '--data-dir', dir, 'config', 'validate', file);
  assert.equal(s.code, 1);
  for (const field of [
    /pipelines\[0\]\.name: a pipeline name is/,
    /pipelines\[0\]\.source\.prefix: a key prefix is relative/,
    /pipelines\[0\]\.source\.suffixes\[0\]: a suffix starts with "\."/,
    /pipelines\[0\]\.destination: Unrecognized key: "prefiks"/,
    /pipelines\[0\]\.priority: /,
    /pipelines\[0\]\.retry\.backoff\.maxSeconds: maxSeconds must be at least initialSeconds/,
    /\(top level\): Unrecognized key: "server"/,
  ])
    assert.match(s.stderr, field);
});

test('sluice config validate: unreadable, not YAML, or no pipelines: CONFIG_INVALID naming the file', async (t) => {
  const dir = await tempDir(t);
  const missing = await sluice({}, '--data-dir', dir, 'config', 'validate', path.join(dir, 'nope.yaml'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /CONFIG_INVALID: cannot read the configuration file .*nope\.yaml: ENOENT/);
  const broken = path.join(dir, 'broken.yaml');
  await fs.writeFile(broken, 'pipelines:\n  - name: a\n    name: b\n');
  const b = await sluice({}, '--data-dir', dir, 'config', 'validate', broken);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /broken\.yaml is not a valid configuration:\n {2}not valid YAML: .*unique/i);
  // An alias bomb (billion laughs) is refused, not expanded.
  const bomb = path.join(dir, 'bomb.yaml');
  const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  }
  await fs.writeFile(bomb, `${levels.join('\n')}\npipelines: *i\n`);
  const bombed = await sluice({}, '--data-dir', dir, 'config', 'validate', bomb);
  assert.equal(bombed.code, 1);
  assert.match(bombed.stderr, /bomb\.yaml is not a valid configuration:\n {2}not valid YAML: .*alias/i);
  const empty = path.join(dir, 'empty.yaml');
  await fs.writeFile(empty, 'pipelines: []\n');
  const e = await sluice({}, '--data-dir', dir, 'config', 'validate', empty);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /pipelines: list at least one pipeline/);
  const none = await sluice({ SLUICE_CONFIG: '' }, '--data-dir', dir, 'config', 'validate');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /needs a FILE/);
});

test('sluice serve --config refuses an invalid file at start, with the same errors, and leaves no lock behind', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'bad.yaml');
  await fs.writeFile(
    file,
    'pipelines:\n  - name: a\n    source: { bucket: source }\n    template: nope\n    destination: { bucket: destination }\n',
  );
  const data = path.join(dir, 'data');
  const r = await sluice({}, '--data-dir', data, 'serve', '--port', '0', '--config', file);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /CONFIG_INVALID: .*bad\.yaml is not a valid configuration:\n {2}pipelines\[0\]\.template: unknown template "nope"/,
  );
  await assert.rejects(fs.stat(path.join(data, 'serve.lock')), 'the data directory lock is released');
});
