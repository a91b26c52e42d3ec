// The ObjectStore the configuration names: local folders under the data directory (the default) or an
// S3-compatible store. `check` makes sure the source and destination buckets are there (local: made;
// S3: HeadBucket each, so a wrong endpoint, bucket or credential fails the start with a clear error).
import path from 'node:path';
import type { Logger } from 'pino';
import { CONFIG_ENV, type Config } from '../config/config.ts';
import { LocalObjectStore } from './local-object-store.ts';
import type { S3ObjectStore } from './s3-object-store.ts';

export type StorageConfig = Pick<
  Config,
  | 'dataDir'
  | 'storage'
  | 'sourceBucket'
  | 'destinationBucket'
  | 's3Endpoint'
  | 's3Region'
  | 's3ForcePathStyle'
  | 's3AccessKeyId'
  | 's3SecretAccessKey'
  | 's3MaxAttempts'
  | 's3PartSize'
>;

export type OpenedObjectStore =
  | { kind: 'local'; objects: LocalObjectStore; where: string }
  | { kind: 's3'; objects: S3ObjectStore; where: string };

/** The AWS SDK is loaded only when the store is S3 (a local worker starts without it). */
export async function openObjectStore(config: StorageConfig, log: Logger): Promise<OpenedObjectStore> {
  if (config.storage === 'local') {
    const objects = new LocalObjectStore(config.dataDir, log);
    return { kind: 'local', objects, where: objects.root };
  }
  const region = config.s3Region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const { S3ObjectStore } = await import('./s3-object-store.ts');
  const objects = new S3ObjectStore(
    {
      ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
      region,
      forcePathStyle: config.s3ForcePathStyle,
      ...(config.s3AccessKeyId && config.s3SecretAccessKey
        ? { credentials: { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } }
        : {}),
      maxAttempts: config.s3MaxAttempts,
      partSize: config.s3PartSize,
      scratchDir: path.join(config.dataDir, 'tmp'),
    },
    log,
  );
  return { kind: 's3', objects, where: config.s3Endpoint ?? `AWS S3 (${region})` };
}

/** Start-up check: the buckets Sluice uses exist (local: are made) and answer. */
export async function checkObjectStore(opened: OpenedObjectStore, buckets: string[]): Promise<void> {
  if (opened.kind === 'local') {
    for (const b of buckets) await opened.objects.ensureBucket(b);
  } else {
    await opened.objects.checkBuckets(buckets);
  }
}

/** The storage settings as SLUICE_* variables: what a local worker needs to open the same store. */
export function storageEnvOf(config: StorageConfig): Record<string, string> {
  const env: Record<string, string> = {};
  const keys = [
    'storage',
    'sourceBucket',
    'destinationBucket',
    's3Endpoint',
    's3Region',
    's3ForcePathStyle',
    's3AccessKeyId',
    's3SecretAccessKey',
    's3MaxAttempts',
    's3PartSize',
  ] as const;
  for (const k of keys) {
    const v = config[k];
    if (v !== undefined) env[CONFIG_ENV[k]] = String(v);
  }
  return env;
}
