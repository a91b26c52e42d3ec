import type { z } from 'zod';
import { fieldErrorsOf, fieldPathOf, SluiceError } from '../errors.ts';

/** Parses a request part with zod; failures name the offending field. */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPathOf(i.path) || '(root)'}: ${i.message}`);
    throw new SluiceError('VALIDATION_FAILED', `${what} is not valid: ${issues.join('; ')}`, {
      errors: fieldErrorsOf(parsed.error.issues),
    });
  }
  return parsed.data;
}
