// The control planes a remote pull worker knows (`--server URL1,URL2`): replicas of one service on one
// PostgreSQL, so any of them accepts a claim, a heartbeat, a result or a storage call of any attempt (the
// leases are in the database; the storage URLs of an assignment are relative to the server). Every call
// goes to the current one; a connection error (refused, reset, no route, timed out) moves the worker to
// the next and the call is sent there, each server tried once per call. An answer, whatever its status
// (a 4xx refusal, a 409 LEASE_LOST), is the service's answer and never a reason to switch. One list is
// shared by the worker's claims and all its attempts, so a switch made by one call holds for the others.
import { SluiceError } from '../errors.ts';

export class ServerList {
  readonly urls: readonly string[];
  private current = 0;
  /** Called when calls move to another server (a log line). */
  onSwitch: ((from: string, to: string, reason: string) => void) | null = null;

  constructor(urls: string | readonly string[]) {
    const list = (typeof urls === 'string' ? urls.split(',') : [...urls])
      .map((u) => u.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    if (list.length === 0) throw new SluiceError('VALIDATION_FAILED', 'no server URL given');
    for (const u of list) {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        throw new SluiceError('VALIDATION_FAILED', `--server ${JSON.stringify(u)} is not a URL`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw new SluiceError('VALIDATION_FAILED', `--server ${u}: give an http:// or https:// URL`);
    }
    this.urls = [...new Set(list)];
  }

  /** The server calls go to now. */
  get url(): string {
    return this.urls[this.current] as string;
  }

  /** Every server, for a log line. */
  toString(): string {
    return this.urls.join(',');
  }

  /**
   * Sends one request, to the current server and on a connection error to each other one in turn.
   * `init` is called for each try (a streamed body cannot be sent twice); `path` is resolved against the
   * server (an absolute URL, such as a presigned one, goes where it says and is tried once). Throws
   * SERVER_UNREACHABLE, naming what each server said, when none answered.
   */
  async fetch(
    path: string,
    init: () => RequestInit,
    o: { timeoutMs?: number; signal?: AbortSignal; what?: string } = {},
  ): Promise<Response> {
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(path);
    const tries = absolute ? 1 : this.urls.length;
    const errors: string[] = [];
    for (let i = 0; i < tries; i++) {
      const base = this.url;
      const signals = [o.signal, o.timeoutMs ? AbortSignal.timeout(o.timeoutMs) : undefined].filter(
        (s): s is AbortSignal => s !== undefined,
      );
      try {
        return await fetch(absolute ? path : path.startsWith('/') ? `${base}${path}` : `${base}/${path}`, {
          ...init(),
          ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
        });
      } catch (err) {
        // Stopped by the caller: not the server's fault, and nothing to switch for.
        if (o.signal?.aborted) throw err;
        const why = describe(err);
        errors.push(`${base}: ${why}`);
        if (!absolute) this.switchFrom(base, why);
      }
    }
    throw new SluiceError(
      'SERVER_UNREACHABLE',
      `${o.what ?? 'request'} failed: no server answered (${errors.join('; ')})`,
    );
  }

  /** Moves calls to the next server, unless another call moved them already. */
  private switchFrom(base: string, reason: string): void {
    if (this.urls.length < 2 || this.url !== base) return;
    this.current = (this.current + 1) % this.urls.length;
    this.onSwitch?.(base, this.url, reason);
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
