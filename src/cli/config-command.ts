// `sluice config validate [FILE]`: reads a configuration file as `sluice serve --config` would (user
// templates from the data directory) and prints the pipelines it found, or every error (exit 1).

import { loadConfigFile } from '../config/pipeline-file.ts';
import { SluiceError } from '../errors.ts';
import type { Pipeline } from '../ingest/pipeline.ts';
import { DEFAULT_BACKOFF } from '../jobs/retry-policy.ts';
import type { EmailRule } from '../notify/email-rules.ts';
import { registryFor } from './template-commands.ts';

function describe(p: Pipeline): string {
  const b = p.retry?.backoff;
  const backoff = b ?? DEFAULT_BACKOFF;
  const attempts =
    p.retry?.maxAttempts !== undefined ? `${p.retry.maxAttempts} attempts` : "the template's attempts";
  return [
    `${p.name}`,
    `  source:       ${p.bucket}/${p.prefix}  (${p.suffixes.join(' ')})`,
    ...(p.settingsPrefix ? [`  settings:     ${p.bucket}/${p.settingsPrefix}*.json`] : []),
    `  template:     ${p.template}`,
    `  destination:  ${p.destinationBucket}/${p.destinationPrefix ?? ''}`,
    `  priority:     ${p.priority ?? 0}`,
    `  retry:        ${attempts}; backoff ${backoff.initialSeconds} s x${backoff.multiplier} up to ${backoff.maxSeconds} s${b ? '' : " (the server's)"}`,
  ].join('\n');
}

function describeRule(r: EmailRule): string {
  const filters = [
    ...(r.application ? [`application ${r.application.join(' | ')}`] : []),
    ...Object.entries(r.userMetadata ?? {}).map(([k, v]) => `${k} ${v.join(' | ')}`),
  ];
  return [
    `email ${r.name}`,
    `  to:           ${r.to.join(', ')}${r.from ? `  (from ${r.from})` : ''}`,
    `  on:           ${r.on.join(', ')}${filters.length ? `; userMetadata: ${filters.join(', ')}` : ''}`,
  ].join('\n');
}

export async function validateConfigFile(
  dataDir: string,
  file: string | undefined,
  json: boolean,
): Promise<string> {
  const path = file ?? process.env.SLUICE_CONFIG;
  if (!path)
    throw new SluiceError(
      'VALIDATION_FAILED',
      'sluice config validate needs a FILE (or SLUICE_CONFIG); without one, serve runs the default pipeline',
    );
  const { pipelines, emailRules } = await loadConfigFile(path, registryFor(dataDir));
  if (json) return JSON.stringify({ file: path, pipelines, emailRules }, null, 2);
  const rules = emailRules.length
    ? `, ${emailRules.length} email rule${emailRules.length === 1 ? '' : 's'}`
    : '';
  return [
    `${path}: ${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'}${rules}, valid`,
    ...pipelines.map(describe),
    ...emailRules.map(describeRule),
  ].join('\n');
}
