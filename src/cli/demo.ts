// `sluice demo`: the whole path on the embedded default, in one command. Starts the service on a free
// loopback port, uploads the file through the HTTP API, follows the job, prints where the outputs are.
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { makeSampleClip } from '../media/sample-clip.ts';
import { startService } from '../service.ts';
import { ApiClient } from './api-client.ts';
import { followJob } from './follow.ts';
import { jobDetails } from './format.ts';

export async function runDemo(dataDir: string, file: string | undefined): Promise<number> {
  const config = loadConfig({ dataDir, port: 0, logLevel: process.env.SLUICE_LOG_LEVEL ?? 'warn' });
  let input = file;
  if (!input) {
    await fs.mkdir(path.join(config.dataDir, 'samples'), { recursive: true });
    input = path.join(config.dataDir, 'samples', 'sluice-sample.mp4');
    console.log('generating a 4 s 1280x720 sample clip with ffmpeg (testsrc2 + tone)...');
    await makeSampleClip(input, { width: 1280, height: 720, seconds: 4 });
  }
  const service = await startService(config, createLogger(config.logLevel));
  try {
    const api = new ApiClient(service.url);
    const { jobs } = await api.upload(input, path.basename(input));
    const job = jobs[0];
    if (!job) return 1;
    console.log(`job ${job.id} created for source/${job.input.key}`);
    const done = await followJob(api, job.id);
    console.log(jobDetails(done));
    if (done.status !== 'COMPLETE') return 1;
    const dest = path.join(
      config.dataDir,
      'buckets',
      done.destination.bucket,
      ...done.destination.prefix.split('/'),
    );
    console.log(`\noutputs in ${dest}`);
    console.log(`  play HLS:  ffplay "${path.join(dest, 'master.m3u8')}"`);
    console.log(`  play DASH: ffplay "${path.join(dest, 'manifest.mpd')}"`);
    // The demo's server stops with it: the console plays the outputs once `sluice serve` runs on this
    // data directory (its default port; docs/console.md).
    console.log(
      `  in a browser: run \`sluice --data-dir ${config.dataDir} serve\` and open http://127.0.0.1:8787/console/#/jobs/${done.id}`,
    );
    return 0;
  } finally {
    await service.stop();
  }
}
