// Where templates come from: built-ins, user files `<data-dir>/templates/<name>.json`, and settings
// JSON given inline (a `jobs/` settings file in a watch bucket, a request body).
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { builtinTemplateNames, getBuiltinTemplate } from './builtin-templates.ts';
import { parseTemplate, type Template } from './template.ts';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Parses template JSON text; the name defaults to the file's. Errors name the source and the field. */
export function templateFromJson(text: string, source: string, name: string): Template {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('INVALID_TEMPLATE', `${source} is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SluiceError('INVALID_TEMPLATE', `${source} must be a JSON object of template settings`);
  }
  return parseTemplate({ name, ...json }, source);
}

/** A file name without its extension, made into a valid template name. */
export function templateNameFor(file: string): string {
  const base = path
    .basename(file)
    .replace(/\.json$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-');
  return NAME.test(base) ? base : `t-${base}`.slice(0, 64);
}

export class TemplateRegistry {
  constructor(private readonly dir: string | null) {}

  async get(name: string): Promise<Template> {
    if (builtinTemplateNames().includes(name)) return getBuiltinTemplate(name);
    if (this.dir && NAME.test(name)) {
      const file = path.join(this.dir, `${name}.json`);
      const text = await fs.readFile(file, 'utf8').catch(() => null);
      if (text !== null) return templateFromJson(text, file, name);
    }
    const user = await this.userNames();
    throw new SluiceError(
      'TEMPLATE_NOT_FOUND',
      `no template named "${name}"; available: ${[...builtinTemplateNames(), ...user].join(', ')}`,
    );
  }

  /** Built-ins first, then user templates (a user file never shadows a built-in). */
  async list(): Promise<{ name: string; source: 'builtin' | 'user'; description: string }[]> {
    const out: { name: string; source: 'builtin' | 'user'; description: string }[] =
      builtinTemplateNames().map((name) => ({
        name,
        source: 'builtin',
        description: getBuiltinTemplate(name).description,
      }));
    for (const name of await this.userNames()) {
      if (builtinTemplateNames().includes(name)) continue;
      const description = await this.get(name).then(
        (t) => t.description,
        (err: Error) => `INVALID: ${err.message}`,
      );
      out.push({ name, source: 'user', description });
    }
    return out;
  }

  private async userNames(): Promise<string[]> {
    if (!this.dir) return [];
    const files = await fs.readdir(this.dir).catch(() => [] as string[]);
    return files
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .filter((n) => NAME.test(n))
      .sort();
  }
}
