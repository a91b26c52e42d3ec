// The Kubernetes deployment files (deploy/kubernetes/) say only what Sluice does: every file parses, is
// listed in the kustomization, and every `sluice` command, flag and SLUICE_* variable they use exists in
// the CLI (its own --help) and the configuration. The pools the workers claim for are the pools the
// control plane offers jobs to, and each worker Deployment sits on its node pool.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { CONFIG_ENV, OTHER_ENV } from '../../src/config/config.ts';
import { SLUICE_BIN } from '../../src/launchers/local-process-launcher.ts';

const run = promisify(execFile);
const DIR = path.resolve(import.meta.dirname, '../../deploy/kubernetes');

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string }; [k: string]: unknown };
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  tolerations?: { key: string; value?: string }[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms: { matchExpressions: { key: string; operator: string; values: string[] }[] }[];
      };
    };
  };
}

async function load(): Promise<Map<string, Doc[]>> {
  const files = new Map<string, Doc[]>();
  for (const name of (await fs.readdir(DIR)).filter((f) => f.endsWith('.yaml')).sort()) {
    const docs = parseAllDocuments(await fs.readFile(path.join(DIR, name), 'utf8'));
    for (const d of docs) assert.deepEqual(d.errors, [], `${name} parses`);
    files.set(
      name,
      docs.map((d) => d.toJS() as Doc),
    );
  }
  return files;
}

const helpCache = new Map<string, string>();
async function help(sub: string[]): Promise<string> {
  const key = sub.join(' ');
  if (!helpCache.has(key)) {
    const { stdout } = await run(process.execPath, [SLUICE_BIN, ...sub, '--help'], {
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
    });
    helpCache.set(key, stdout);
  }
  return helpCache.get(key) ?? '';
}

function podSpecs(docs: Doc[]): { name: string; spec: PodSpec; replicas?: number }[] {
  return docs
    .filter((d) => d.kind === 'Deployment')
    .map((d) => {
      const spec = d.spec as { replicas?: number; template: { spec: PodSpec } };
      return { name: d.metadata?.name ?? '', spec: spec.template.spec, replicas: spec.replicas };
    });
}

function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

test('deploy/kubernetes: every file parses, is a named object, and is in the kustomization', async () => {
  const files = await load();
  assert.ok(files.size >= 4);
  const kustomization = files.get('kustomization.yaml')?.[0] as { resources: string[] };
  assert.deepEqual(
    [...kustomization.resources].sort(),
    [...files.keys()].filter((f) => f !== 'kustomization.yaml').sort(),
    'the kustomization lists every file',
  );
  for (const [name, docs] of files) {
    if (name === 'kustomization.yaml') continue;
    for (const d of docs) {
      assert.ok(d.apiVersion && d.kind && d.metadata?.name, `${name}: apiVersion, kind and metadata.name`);
    }
  }
});

test('deploy/kubernetes: every sluice command, flag and variable exists in the CLI and the configuration', async () => {
  const files = await load();
  const known = new Set<string>([...Object.values(CONFIG_ENV), ...OTHER_ENV]);
  const secretKeys = new Set(
    [...files.values()]
      .flat()
      .filter((d) => d.kind === 'Secret')
      .flatMap((d) => Object.keys((d.stringData ?? {}) as object)),
  );
  let checked = 0;
  for (const [file, docs] of files) {
    for (const { name, spec } of podSpecs(docs)) {
      for (const c of spec.containers) {
        assert.equal(c.image, 'sluice', `${file} ${name}: the image the kustomization names`);
        for (const e of c.env ?? []) {
          if (e.name.startsWith('SLUICE_'))
            assert.ok(known.has(e.name), `${file} ${name}: ${e.name} is a Sluice variable`);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref)
            assert.ok(secretKeys.has(ref.key), `${file} ${name}: secret key ${ref.key} is in the Secret`);
        }
        const args = [...(c.command ?? []), ...(c.args ?? [])];
        const sub = args.filter((a) => !a.startsWith('-')).slice(0, 1);
        assert.equal(sub.length, 1, `${file} ${name}: a sluice subcommand`);
        // Global options (--server, --data-dir) are the root command's.
        const text = (await help(sub)) + (await help([]));
        for (const flag of args.filter((a) => a.startsWith('--'))) {
          assert.ok(
            new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, '\\-')}([\\s=<\\[]|$)`, 'm').test(text),
            `${file} ${name}: \`sluice ${sub[0]}\` has ${flag}\n${text}`,
          );
          checked++;
        }
      }
    }
  }
  assert.ok(checked >= 8, `flags checked: ${checked}`);
});

test('deploy/kubernetes: two control planes on PostgreSQL, no local workers; one worker Deployment per offered pool, on its node pool', async () => {
  const files = await load();
  const all = [...files.values()].flat();
  const deployments = podSpecs(all);
  const control = deployments.filter((d) => d.spec.containers[0]?.args?.[0] === 'serve');
  assert.equal(control.length, 1);
  const cp = control[0];
  assert.ok(cp && (cp.replicas ?? 1) >= 2, 'at least two control plane replicas');
  const cpc = cp?.spec.containers[0] as Container;
  assert.ok(cpc.args?.includes('--no-local-workers'));
  assert.ok(
    cpc.env?.some((e) => e.name === 'SLUICE_DATABASE_URL'),
    'replicas share one PostgreSQL',
  );
  const pools = (envValue(cpc, 'SLUICE_POOLS') ?? '').split(',');
  assert.deepEqual(pools, ['spot', 'on-demand']);

  const workers = deployments.filter((d) => d.spec.containers[0]?.args?.[0] === 'worker');
  const byPool = new Map<string, (typeof workers)[number]>();
  for (const w of workers) {
    const args = w.spec.containers[0]?.args ?? [];
    const pool = args[args.indexOf('--pool') + 1] ?? '';
    byPool.set(pool, w);
    const terms =
      w.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    assert.ok(
      terms?.some((t) => t.matchExpressions.some((m) => m.operator === 'In' && m.values.includes(pool))),
      `${w.name}: node affinity to the ${pool} node pool`,
    );
    assert.ok(
      (w.spec.terminationGracePeriodSeconds ?? 0) >= 20,
      `${w.name}: time to hand the job back on SIGTERM`,
    );
    assert.ok(args.includes('--server'));
    assert.ok(
      w.spec.containers[0]?.env?.some((e) => e.name === 'SLUICE_WORKER_TOKEN' && e.valueFrom?.secretKeyRef),
      `${w.name}: its worker token from a Secret, not on the command line`,
    );
  }
  assert.deepEqual([...byPool.keys()].sort(), [...pools].sort(), 'a worker Deployment for every pool');
  assert.ok(
    byPool.get('spot')?.spec.tolerations?.some((t) => t.value === 'spot'),
    'spot workers tolerate the spot taint',
  );
});

test('deploy/kubernetes: the workers of each pool scale on the demand route of that pool, authenticated with the API token', async () => {
  const all = [...(await load()).values()].flat();
  const deployments = new Set(all.filter((d) => d.kind === 'Deployment').map((d) => d.metadata?.name));
  const auths = new Map(
    all.filter((d) => d.kind === 'TriggerAuthentication').map((d) => [d.metadata?.name, d]),
  );
  const scaled = all.filter((d) => d.kind === 'ScaledObject');
  const workers = podSpecs(all).filter((d) => d.spec.containers[0]?.args?.[0] === 'worker');
  assert.equal(scaled.length, workers.length, 'one ScaledObject per worker Deployment');
  for (const so of scaled) {
    const spec = so.spec as {
      scaleTargetRef: { name: string };
      triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
    };
    assert.ok(deployments.has(spec.scaleTargetRef.name), `${so.metadata?.name}: targets a Deployment here`);
    const worker = workers.find((w) => w.name === spec.scaleTargetRef.name);
    const args = worker?.spec.containers[0]?.args ?? [];
    const pool = args[args.indexOf('--pool') + 1];
    for (const trigger of spec.triggers) {
      assert.equal(trigger.type, 'metrics-api');
      const url = new URL(trigger.metadata.url ?? '');
      assert.equal(url.pathname, `/v1/pools/${pool}`, `${so.metadata?.name}: its own pool's route`);
      assert.equal(url.port, '8787');
      assert.equal(trigger.metadata.valueLocation, 'demand');
      const auth = auths.get(trigger.authenticationRef?.name) as
        | { spec: { secretTargetRef: { parameter: string; key: string }[] } }
        | undefined;
      assert.ok(
        auth?.spec.secretTargetRef.some((r) => r.parameter === 'token' && r.key === 'api-token'),
        'bearer token from the API token secret',
      );
    }
  }
});

test('deploy/kubernetes: the control plane is alive on /v1/health and ready on /v1/ready', async () => {
  const all = [...(await load()).values()].flat();
  const cp = podSpecs(all).find((d) => d.spec.containers[0]?.args?.[0] === 'serve');
  const c = cp?.spec.containers[0] as Container & {
    livenessProbe?: { httpGet?: { path?: string } };
    readinessProbe?: { httpGet?: { path?: string } };
  };
  assert.equal(c.livenessProbe?.httpGet?.path, '/v1/health', 'liveness: the process answers');
  assert.equal(c.readinessProbe?.httpGet?.path, '/v1/ready', 'readiness: store and buckets answer');
});
