import type { Config } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { startService } from '../service.ts';
import { usePrivateUmask } from '../storage/private-data-dir.ts';

export async function runServe(config: Config): Promise<void> {
  usePrivateUmask();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  console.log(
    `sluice serving ${service.url} (data: ${config.dataDir}); drop videos into ${config.dataDir}/buckets/source/`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await service.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
