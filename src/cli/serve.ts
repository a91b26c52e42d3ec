import type { Config } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { type ServiceOptions, startService } from '../service.ts';
import { usePrivateUmask } from '../storage/private-data-dir.ts';

export async function runServe(config: Config, o: ServiceOptions = {}): Promise<void> {
  usePrivateUmask();
  const log = createLogger(config.logLevel);
  const service = await startService(config, log, o);
  console.log(
    config.configFile
      ? `sluice serving ${service.url} (data: ${config.dataDir}); pipelines from ${config.configFile}`
      : `sluice serving ${service.url} (data: ${config.dataDir}); drop videos into ${config.dataDir}/buckets/source/`,
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
  if (process.env.npm_command !== undefined) stopWithParent(() => void stop('npm exited'));
}

/** How often a server started through npm checks that npm is still there. */
const PARENT_CHECK_MS = 500;

/**
 * `npx sluice serve` (and `npm exec`, `npm run`) runs npm, which runs `sh -c sluice ...`, which runs
 * this node. A signal to the process the user started reaches npm alone: npm exits and the server would
 * run on, orphaned, with its workers and ffmpeg. So a server npm started stops, as if signalled, when
 * its parent goes (it is reparented). Only under npm (`npm_command` set): a plain `sluice serve &` from
 * a script that then exits must keep running.
 */
function stopWithParent(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, PARENT_CHECK_MS);
  timer.unref();
}
