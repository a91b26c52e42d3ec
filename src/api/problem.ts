// Errors as RFC 9457 problem+json with Sluice's stable codes.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, type FieldError, SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { type JobView, jobView } from './job-view.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance?: string;
  /** JOB_CONFLICT: the existing job the request would have deduplicated to. */
  job?: JobView;
  /** INVALID_TEMPLATE, VALIDATION_FAILED, CONFIG_INVALID: each invalid field, for a form to show by it. */
  errors?: FieldError[];
}

const FIELD_ERROR_CODES = new Set(['INVALID_TEMPLATE', 'VALIDATION_FAILED', 'CONFIG_INVALID']);

/**
 * The field errors an error carries: `{field, message}` as made by fieldErrorsOf, or the configuration
 * file's `field: message` lines (config/pipeline-file.ts; `(top level)` is ""). None: the whole request.
 */
function fieldErrors(e: SluiceError): FieldError[] | undefined {
  if (!FIELD_ERROR_CODES.has(e.code)) return undefined;
  const given = e.details?.errors;
  if (!Array.isArray(given)) return [{ field: '', message: e.message }];
  return given.map((x: unknown) => {
    if (typeof x === 'string') {
      const at = x.indexOf(': ');
      const field = at > 0 ? x.slice(0, at) : '';
      return at > 0
        ? { field: field === '(top level)' ? '' : field, message: x.slice(at + 2) }
        : { field: '', message: x };
    }
    const f = x as Partial<FieldError>;
    return { field: String(f.field ?? ''), message: String(f.message ?? '') };
  });
}

export function toProblem(err: unknown, instance?: string): Problem {
  let e: SluiceError;
  if (err instanceof SluiceError) e = err;
  else {
    const fe = err as FastifyError;
    if (fe.validation) e = new SluiceError('VALIDATION_FAILED', fe.message);
    else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new SluiceError('PAYLOAD_TOO_LARGE', fe.message);
    else if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
      e = new SluiceError('VALIDATION_FAILED', fe.message);
    else e = new SluiceError('INTERNAL', 'internal error; see the server log');
  }
  const errors = fieldErrors(e);
  return {
    type: `https://sluice.dev/errors/${e.code}`,
    title: ERROR_CATALOGUE[e.code].title,
    status: e.status,
    code: e.code,
    detail: e.message,
    ...(instance ? { instance } : {}),
    ...(e.details?.job ? { job: jobView(e.details.job as Job) } : {}),
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, err: unknown, req?: FastifyRequest): FastifyReply {
  const problem = toProblem(err, req?.url);
  const retryAfter = err instanceof SluiceError ? err.details?.retryAfterSeconds : undefined;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
  if (problem.status >= 500) req?.log.error({ err }, 'request failed');
  return reply.code(problem.status).type('application/problem+json').send(problem);
}
