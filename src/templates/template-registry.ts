// Where templates come from: built-ins, then user files `<data-dir>/templates/<name>.json`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../errors.ts';
import { builtinTemplateNames, getBuiltinTemplate } from './builtin-templates.ts';
import { parseTemplate, type Template } from './template.ts';

export class TemplateRegistry {
  constructor(private readonly dir: string | null) {}

  async get(name: string): Promise<Template> {
    if (builtinTemplateNames().includes(name)) return getBuiltinTemplate(name);
    if (this.dir && /^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) {
      const file = path.join(this.dir, `${name}.json`);
      let text: string | null = null;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch {
        // not a user template either
      }
      if (text !== null) {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (err) {
          throw new SluiceError('INVALID_TEMPLATE', `${file} is not JSON: ${(err as Error).message}`);
        }
        return parseTemplate({ ...(json as object), name }, file);
      }
    }
    return getBuiltinTemplate(name);
  }
}
