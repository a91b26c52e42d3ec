import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { openObjectStore } from '../storage/open-object-store.ts';
import { usePrivateUmask } from '../storage/private-data-dir.ts';
import { ServerList } from '../worker/server-list.ts';
import { runWorker } from '../worker/worker.ts';

/** `sluice worker`: one attempt, then exit (0 complete, 1 failed and reported, 2 aborted or handed back). */
export async function runWorkerCommand(
  config: { dataDir: string; logLevel: string },
  server: string,
  jobId: string,
): Promise<number> {
  const token = process.env.SLUICE_WORKER_TOKEN;
  if (!token)
    throw new SluiceError('UNAUTHORIZED', 'sluice worker needs its attempt token in SLUICE_WORKER_TOKEN');
  usePrivateUmask(); // what it and its ffmpeg write in the data directory is the owner's only
  const log = createLogger(config.logLevel, 'sluice-worker');
  const result = await runWorker({
    serverUrl: server,
    jobId,
    token,
    // The server's object store: its settings come in the environment (SLUICE_STORAGE, SLUICE_S3_*).
    objects: (
      await openObjectStore(loadConfig({ dataDir: config.dataDir }), log.child({ component: 'objects' }))
    ).objects,
    log,
  });
  return result === 'COMPLETE' ? 0 : result === 'FAILED' ? 1 : 2;
}

/**
 * `sluice worker --server URL[,URL…] --token TOKEN`: a long-lived remote worker pulling work until
 * signalled; several URLs are replicas of one control plane, failed over between (server-list.ts).
 */
export async function runPullWorkerCommand(o: {
  server: string;
  token: string;
  pool?: string;
  concurrency: number;
  logLevel: string;
}): Promise<number> {
  usePrivateUmask(); // its scratch files are the owner's only
  const { runPullWorker } = await import('../worker/pull-worker.ts');
  await runPullWorker({
    server: new ServerList(o.server),
    token: o.token,
    ...(o.pool ? { pool: o.pool } : {}),
    concurrency: o.concurrency,
    log: createLogger(o.logLevel, 'sluice-worker'),
  });
  return 0;
}
