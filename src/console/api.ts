// Calls to the Sluice API from the browser: same origin, the session cookie (never a token in a URL or
// in script-readable storage). Failures arrive as problem+json; ApiError keeps its code and, for
// validation problems, the per-field errors.
import type { FieldError } from './types.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

const listeners = new Set<(err: ApiError) => void>();

/** Told of every 401 (a session that ended): the app shows its "sign in again" banner. */
export function onUnauthorized(listener: (err: ApiError) => void): void {
  listeners.add(listener);
}

/** Tells the listeners that the session ended, when a caller learnt it without a 401 (a closed stream). */
export function sessionEnded(): void {
  const err = new ApiError(401, 'UNAUTHORIZED', 'The session has ended.');
  for (const l of listeners) l(err);
}

export async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const errors = Array.isArray(body.errors)
    ? (body.errors as unknown[]).filter(
        (e): e is FieldError =>
          typeof e === 'object' && e !== null && typeof (e as FieldError).field === 'string',
      )
    : [];
  const code = typeof body.code === 'string' ? body.code : `HTTP_${res.status}`;
  const message =
    typeof body.detail === 'string'
      ? body.detail
      : typeof body.title === 'string'
        ? body.title
        : res.statusText;
  return new ApiError(res.status, code, message, errors);
}

export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  return fetch(path, init);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (!res.ok) {
    const err = await problemOf(res);
    if (res.status === 401) for (const l of listeners) l(err);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
