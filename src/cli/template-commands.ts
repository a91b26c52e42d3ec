// `sluice templates list|show|validate` and `sluice plan`: work on local files, no server needed.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { probe } from '../media/probe.ts';
import { describeMedia, describePlan } from '../templates/describe-plan.ts';
import { planJob } from '../templates/ladder.ts';
import type { Template } from '../templates/template.ts';
import { TemplateRegistry, templateFromJson, templateNameFor } from '../templates/template-registry.ts';

export function registryFor(dataDir: string): TemplateRegistry {
  return new TemplateRegistry(path.join(dataDir, 'templates'));
}

/** A template by name, or from a JSON file when given a path ending in .json. */
export async function resolveTemplate(dataDir: string, nameOrFile: string): Promise<Template> {
  if (nameOrFile.endsWith('.json')) {
    const text = await fs.readFile(nameOrFile, 'utf8').catch((err: Error) => {
      throw new SluiceError('TEMPLATE_NOT_FOUND', `cannot read template file ${nameOrFile}: ${err.message}`);
    });
    return templateFromJson(text, nameOrFile, templateNameFor(nameOrFile));
  }
  return registryFor(dataDir).get(nameOrFile);
}

export async function listTemplates(dataDir: string): Promise<string> {
  const all = await registryFor(dataDir).list();
  const width = Math.max(...all.map((t) => t.name.length));
  return all.map((t) => `${t.name.padEnd(width)}  ${t.source.padEnd(7)}  ${t.description}`).join('\n');
}

export async function validateTemplateFile(file: string): Promise<string> {
  const t = await resolveTemplate('', file.endsWith('.json') ? file : `${file}.json`);
  return `${file}: valid template "${t.name}" (${t.ladder.length} video rendition(s)${t.packaging.hls ? ', HLS' : ''}${t.packaging.dash ? ', DASH' : ''}${t.mp4.enabled ? ', MP4' : ''})`;
}

export async function planFile(
  dataDir: string,
  file: string,
  template: string,
  json: boolean,
): Promise<string> {
  const t = await resolveTemplate(dataDir, template);
  const media = await probe(path.resolve(file));
  const plan = planJob(t, media);
  if (json) return JSON.stringify({ template: t.name, input: media, plan }, null, 2);
  return [`input: ${file}: ${describeMedia(media)}`, `template: ${t.name}`, describePlan(plan)].join('\n');
}
