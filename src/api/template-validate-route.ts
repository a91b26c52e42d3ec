// POST /v1/templates/validate: a template document checked as the server would read it from a file, and
// answered with every default filled in; or INVALID_TEMPLATE with each invalid field in `errors`, for the
// console's editor to show by the field. Nothing is stored.
import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../errors.ts';
import { parseTemplate } from '../templates/template.ts';

/** The name a document without one is checked under. */
export const DRAFT_NAME = 'draft';

export function registerTemplateValidateRoute(app: FastifyInstance): void {
  app.post('/v1/templates/validate', async (req) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new SluiceError('INVALID_TEMPLATE', 'the template must be a JSON object of template settings');
    }
    return { valid: true, template: parseTemplate({ name: DRAFT_NAME, ...body }, 'the template') };
  });
}
