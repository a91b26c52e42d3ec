// The `sluice` command.
import path from 'node:path';
import { Command, Option } from 'commander';
import type { JobView } from '../api/job-view.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import { isJobStatus } from '../jobs/job.ts';
import { createLogger } from '../log.ts';
import { ffmpegThreads } from '../media/ffmpeg-threads.ts';
import { VERSION } from '../version.ts';
import { ApiClient, resolveApiToken, resolveServerUrl } from './api-client.ts';
import { followJob } from './follow.ts';
import { jobDetails, jobsTable } from './format.ts';
import { registerWebhookCommands } from './webhook-commands.ts';

// Commands that need the server stack (Fastify, SQLite) or the worker load it when they run, so a worker
// process starts without loading the server and the other way round.

const program = new Command('sluice')
  .version(VERSION)
  .description('Self-hosted media processing: uploads become jobs that publish HLS, DASH, MP4 and thumbnails')
  .addOption(new Option('--data-dir <dir>', 'data directory (buckets, job database)').env('SLUICE_DATA_DIR'))
  .option('--server <url>', 'URL of a running `sluice serve` (default: the one serving --data-dir)')
  .showHelpAfterError();

const dataDir = () => path.resolve(program.opts<{ dataDir?: string }>().dataDir ?? 'sluice-data');
const api = async () =>
  new ApiClient(
    await resolveServerUrl(program.opts<{ server?: string }>().server, dataDir()),
    await resolveApiToken(dataDir()),
  );

program
  .command('serve')
  .description('run the API, the source-bucket watcher and the scheduler')
  .option('--host <host>', 'address to listen on (default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (default 8787; 0 picks a free one)')
  .option('--concurrency <n>', 'jobs run at once (default: CPU cores / 2)')
  .option(
    '--config <file>',
    'pipelines from a YAML or JSON file (default: SLUICE_CONFIG, else the default pipeline)',
  )
  .option(
    '--no-local-workers',
    'a pure control plane: start no workers; remote `sluice worker`s pull the work',
  )
  .action(
    async (o: {
      host?: string;
      port?: string;
      concurrency?: string;
      config?: string;
      localWorkers: boolean;
    }) => {
      const { runServe } = await import('./serve.ts');
      const { loadConfig } = await import('../config/config.ts');
      await runServe(
        loadConfig({
          dataDir: dataDir(),
          host: o.host,
          port: o.port,
          concurrency: o.concurrency,
          configFile: o.config,
        }),
        { localWorkers: o.localWorkers },
      );
    },
  );

program
  .command('worker')
  .description(
    'a remote worker pulling jobs (--server URL[,URL…] of one or more control planes, and --token TOKEN, --token-file FILE or SLUICE_WORKER_TOKEN), or one launched attempt (--job, token in SLUICE_WORKER_TOKEN)',
  )
  .option('--token <token>', 'worker token (`sluice workers token create`): pull work until stopped')
  .option('--token-file <file>', 'read the worker token from this file (kept out of the process list)')
  .option('--pool <name>', "capacity pool to claim for (must be the token's; default: the token's)")
  .option('--concurrency <n>', 'attempts run at once (pull mode)', '1')
  .option('--job <id>', 'run one attempt of this job and exit (started by the scheduler)')
  .option('--threads <n>', "ffmpeg threads per attempt (default: ffmpeg's own, about one per core)")
  .action(
    async (o: {
      job?: string;
      token?: string;
      tokenFile?: string;
      pool?: string;
      concurrency: string;
      threads?: string;
    }) => {
      // Read by every ffmpeg this worker starts (ffmpeg-threads.ts), checked here first.
      if (o.threads !== undefined) {
        process.env.SLUICE_FFMPEG_THREADS = o.threads;
        ffmpegThreads();
      }
      // A pull worker may name several control planes (`--server URL1,URL2`), also in SLUICE_SERVER.
      const server =
        program.opts<{ server?: string }>().server ?? (o.job ? undefined : process.env.SLUICE_SERVER);
      if (o.tokenFile) {
        if (o.token) throw new SluiceError('VALIDATION_FAILED', 'give --token or --token-file, not both');
        const { readFile } = await import('node:fs/promises');
        const text = await readFile(o.tokenFile, 'utf8').catch((err: Error) => {
          throw new SluiceError('VALIDATION_FAILED', `--token-file ${o.tokenFile}: ${err.message}`);
        });
        o.token = text.trim();
        if (!o.token) throw new SluiceError('VALIDATION_FAILED', `--token-file ${o.tokenFile} is empty`);
      }
      // Pull mode may take its worker token from the environment (a Kubernetes Secret), out of `ps`.
      if (!o.job && !o.token && process.env.SLUICE_WORKER_TOKEN) o.token = process.env.SLUICE_WORKER_TOKEN;
      if (!server)
        throw new SluiceError(
          'VALIDATION_FAILED',
          'sluice worker needs --server <url> (a pull worker: one URL or several, comma-separated, or SLUICE_SERVER)',
        );
      const logLevel = process.env.SLUICE_LOG_LEVEL || 'info';
      if (o.job && o.token)
        throw new SluiceError(
          'VALIDATION_FAILED',
          'give --job (one launched attempt) or --token (pull work), not both',
        );
      if (o.token) {
        const concurrency = Number(o.concurrency);
        if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256))
          throw new SluiceError(
            'VALIDATION_FAILED',
            `--concurrency ${o.concurrency}: give a whole number from 1 to 256`,
          );
        const { runPullWorkerCommand } = await import('./worker-command.ts');
        process.exitCode = await runPullWorkerCommand({
          server,
          token: o.token,
          ...(o.pool ? { pool: o.pool } : {}),
          concurrency,
          logLevel,
        });
        return;
      }
      if (!o.job)
        throw new SluiceError(
          'VALIDATION_FAILED',
          'sluice worker needs --token <worker token> (pull work from --server) or --job <id> (one launched attempt)',
        );
      const { runWorkerCommand } = await import('./worker-command.ts');
      // No configuration schema here: the launcher passes a checked log level, and loading zod would
      // add ~0.1 s to every worker's start.
      process.exitCode = await runWorkerCommand({ dataDir: dataDir(), logLevel }, server, o.job);
    },
  );

const workers = program.command('workers').description('remote pull workers');
const workerTokens = workers
  .command('token')
  .description('worker tokens: what `sluice worker --token` presents');
workerTokens
  .command('create')
  .description('make a worker token (printed once; only its hash is stored)')
  .option(
    '--pool <name>',
    "the capacity pool its workers claim for (one of the server's SLUICE_POOLS; default: the first)",
  )
  .option('--label <text>', 'a note for `list` (which machine, who)')
  .option('--json', 'print JSON')
  .action(async (o: { pool: string; label?: string; json?: boolean }) => {
    const made = await (await api()).createWorkerToken(o.pool, o.label);
    if (o.json) console.log(JSON.stringify(made, null, 2));
    else {
      console.log(made.token);
      console.error(
        `worker token ${made.id} (pool ${made.pool}) made; it is shown only now: sluice worker --server <url> --token <token>`,
      );
    }
  });
workerTokens
  .command('list')
  .description('list worker tokens (never the tokens themselves)')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const { tokens } = await (await api()).listWorkerTokens();
    if (o.json) console.log(JSON.stringify(tokens, null, 2));
    else if (tokens.length === 0) console.log('no worker tokens');
    else
      for (const t of tokens)
        console.log(
          `${t.id}  ${t.pool.padEnd(12)} ${(t.revokedAt ? `revoked ${t.revokedAt}` : 'active').padEnd(32)} last used ${t.lastUsedAt ?? 'never'}${t.label ? `  ${t.label}` : ''}`,
        );
  });
workerTokens
  .command('revoke')
  .description('revoke a worker token: its workers are refused their next claim and exit')
  .argument('<id>', 'token id (from `list`)')
  .action(async (id: string) => {
    const t = await (await api()).revokeWorkerToken(id);
    console.log(`${t.id}  revoked ${t.revokedAt}`);
  });

registerWebhookCommands(program, api);

program
  .command('submit')
  .description('put a file into the source bucket; it becomes a job')
  .argument('<file>', 'media file')
  .option('--key <key>', 'object key in the source bucket (default: the file name)')
  .option('--template <name>', "template to apply (default: the pipeline's)")
  .option('--wait', 'follow the job with a progress bar until it ends')
  .action(async (file: string, o: { key?: string; template?: string; wait?: boolean }) => {
    const client = await api();
    const key = o.key ?? path.basename(file);
    const { jobs } = await client.upload(file, key, o.template);
    for (const j of jobs) console.log(`${j.id}  ${j.status}  ${j.input.key} (${j.templateName})`);
    if (!o.wait) return;
    let ok = true;
    for (const j of jobs) {
      const done = await followJob(client, j.id);
      console.log(jobDetails(done));
      ok &&= done.status === 'COMPLETE';
    }
    if (!ok) process.exitCode = 1;
  });

program
  .command('skipped')
  .description('objects in the watch folder that made no job, and why (newest first)')
  .option('--limit <n>', 'at most this many', '50')
  .option('--json', 'print JSON')
  .action(async (o: { limit: string; json?: boolean }) => {
    const { skipped } = await (await api()).listSkipped(Number(o.limit) || 50);
    if (o.json) console.log(JSON.stringify(skipped, null, 2));
    else if (skipped.length === 0) console.log('no skipped objects');
    else
      for (const s of skipped)
        console.log(`${s.lastSeenAt}  ${s.reason.padEnd(16)} ${s.bucket}/${s.key}: ${s.message}`);
  });

program
  .command('jobs')
  .description('list jobs')
  .option('--status <status>', 'SUBMITTED | PROGRESSING | COMPLETE | ERROR | CANCELED')
  .option('--limit <n>', 'at most this many, newest first (default 100, at most 1000)')
  .option('--json', 'print JSON')
  .action(async (o: { status?: string; limit?: string; json?: boolean }) => {
    if (o.status && !isJobStatus(o.status.toUpperCase())) {
      throw new SluiceError(
        'INVALID_STATUS',
        `unknown status ${o.status}; use SUBMITTED, PROGRESSING, COMPLETE, ERROR or CANCELED`,
      );
    }
    const limit = o.limit === undefined ? undefined : Number(o.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
      throw new SluiceError('VALIDATION_FAILED', `--limit ${o.limit}: give a whole number from 1 to 1000`);
    }
    const { jobs } = await (await api()).listJobs(o.status?.toUpperCase(), limit);
    console.log(o.json ? JSON.stringify(jobs, null, 2) : jobsTable(jobs));
  });

program
  .command('job')
  .description('show one job')
  .argument('<id>', 'job id')
  .option('--follow', 'follow it with a progress bar until it ends')
  .option('--json', 'print JSON')
  .action(async (id: string, o: { follow?: boolean; json?: boolean }) => {
    const client = await api();
    const job = o.follow ? await followJob(client, id) : await client.getJob(id);
    console.log(o.json ? JSON.stringify(job, null, 2) : jobDetails(job));
  });

program
  .command('cancel')
  .description('cancel a job that has not ended')
  .argument('<id>', 'job id')
  .action(async (id: string) => {
    const job = await (await api()).cancel(id);
    console.log(`${job.id}  ${job.status}`);
  });

program
  .command('retry')
  .description('run an ERROR or CANCELED job again, with a fresh set of attempts')
  .argument('[id]', 'job id')
  .option('--pipeline <name>', 'instead: every ERROR job of this pipeline')
  .action(async (id: string | undefined, o: { pipeline?: string }) => {
    if ((id === undefined) === (o.pipeline === undefined)) {
      throw new SluiceError('VALIDATION_FAILED', 'give a job id or --pipeline <name>, not both');
    }
    if (o.pipeline !== undefined) {
      // 1000 jobs per request: again while the batch was full and something was retried.
      const client = await api();
      const retried: JobView[] = [];
      const failed: { id: string; code: string; message: string }[] = [];
      for (;;) {
        const batch = await client.retryPipeline(o.pipeline);
        retried.push(...batch.retried);
        failed.push(...batch.failed);
        if (!batch.more || batch.retried.length === 0) break;
      }
      for (const job of retried) console.log(`${job.id}  ${job.status}`);
      // A job someone else changed meanwhile: named, and the exit status says not all went.
      for (const f of failed) console.error(`sluice: ${f.id}: ${f.code}: ${f.message}`);
      if (retried.length === 0 && failed.length === 0)
        console.error(`sluice: pipeline ${o.pipeline} has no ERROR jobs`);
      if (failed.length > 0) process.exitCode = 1;
      return;
    }
    const job = await (await api()).retry(id as string);
    console.log(`${job.id}  ${job.status}`);
  });

const templates = program.command('templates').description('built-in and user templates (job settings)');
templates
  .command('list')
  .description('list templates')
  .action(async () => {
    const { listTemplates } = await import('./template-commands.ts');
    console.log(await listTemplates(dataDir()));
  });
templates
  .command('show')
  .description('print a template with every default filled in')
  .argument('<name>', 'template name, or a .json file')
  .action(async (name: string) => {
    const { resolveTemplate } = await import('./template-commands.ts');
    console.log(JSON.stringify(await resolveTemplate(dataDir(), name), null, 2));
  });
templates
  .command('validate')
  .description('check a template file; errors name the offending field')
  .argument('<file>', 'template JSON file')
  .action(async (file: string) => {
    const { validateTemplateFile } = await import('./template-commands.ts');
    console.log(await validateTemplateFile(file));
  });

const config = program.command('config').description('the configuration file (pipelines)');
config
  .command('validate')
  .description('check a configuration file: print its pipelines, or every error (exit 1)')
  .argument('[file]', 'YAML or JSON file (default: SLUICE_CONFIG)')
  .option('--json', 'print JSON')
  .action(async (file: string | undefined, o: { json?: boolean }) => {
    const { validateConfigFile } = await import('./config-command.ts');
    console.log(await validateConfigFile(dataDir(), file, Boolean(o.json)));
  });

program
  .command('input')
  .description("one input's jobs (one per matching pipeline) and their aggregate status")
  .argument('<id>', "input id (a job's inputId)")
  .action(async (id: string) => {
    const { inputDetails } = await import('./format.ts');
    console.log(inputDetails(await (await api()).getInput(id)));
  });

program
  .command('plan')
  .description('dry run: the renditions, audio and packaging a file would get, before anything runs')
  .argument('<file>', 'media file')
  .option('--template <name>', 'template name or .json file', 'abr-default')
  .option('--json', 'print JSON')
  .action(async (file: string, o: { template: string; json?: boolean }) => {
    const { planFile } = await import('./template-commands.ts');
    console.log(await planFile(dataDir(), file, o.template, Boolean(o.json)));
  });

program
  .command('demo')
  .description(
    'process a video end to end on the embedded default (a generated sample when no file is given)',
  )
  .argument('[file]', 'media file to process')
  .action(async (file: string | undefined) => {
    const { runDemo } = await import('./demo.ts');
    const { usePrivateUmask } = await import('../storage/private-data-dir.ts');
    usePrivateUmask(); // the demo's service writes the same data directory as `serve`
    process.exitCode = await runDemo(dataDir(), file);
  });

try {
  await program.parseAsync();
} catch (err) {
  const e = toSluiceError(err);
  if (e.code === 'INTERNAL') createLogger('error').error({ err }, 'unexpected error');
  console.error(`sluice: ${e.code}: ${e.message}`);
  process.exitCode = e.code === 'INTERNAL' ? 70 : 1;
}
