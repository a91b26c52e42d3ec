// The CLI's HTTP client for a running `sluice serve`.

import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { TOKEN_FILE } from '../api/api-token.ts';
import type { InputView } from '../api/input-routes.ts';
import type { JobView } from '../api/job-view.ts';
import type { DeliveryView } from '../api/webhook-routes.ts';
import { DEFAULT_PORT, SERVER_FILE } from '../config/defaults.ts';
import { isErrorCode, SluiceError } from '../errors.ts';
import type { SkipRecord } from '../ingest/skip-log.ts';
import type { WorkerToken } from '../jobs/worker-token-store.ts';
import type { WebhookView } from '../notify/webhook-subscriptions.ts';
import type { ObjectInfo } from '../storage/object-store.ts';
import { type EventStreamOptions, readEventStream } from './event-stream-client.ts';

/** --server, else SLUICE_SERVER, else the server.json a running `sluice serve` leaves in its data dir. */
export async function resolveServerUrl(flag: string | undefined, dataDir: string): Promise<string> {
  if (flag) return flag.replace(/\/$/, '');
  if (process.env.SLUICE_SERVER) return process.env.SLUICE_SERVER.replace(/\/$/, '');
  try {
    const info = JSON.parse(await fs.readFile(path.join(dataDir, SERVER_FILE), 'utf8')) as { url: string };
    return info.url;
  } catch {
    return `http://127.0.0.1:${DEFAULT_PORT}`;
  }
}

/** SLUICE_API_TOKEN, else the token file a `sluice serve` beyond loopback keeps in its data directory. */
export async function resolveApiToken(dataDir: string): Promise<string | undefined> {
  if (process.env.SLUICE_API_TOKEN) return process.env.SLUICE_API_TOKEN;
  const t = await fs.readFile(path.join(dataDir, TOKEN_FILE), 'utf8').catch(() => null);
  return t?.trim() || undefined;
}

const hasJobs = (b: Record<string, unknown>) => Array.isArray(b.jobs);
const isJob = (b: Record<string, unknown>) => typeof b.id === 'string' && typeof b.status === 'string';

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** Objects the watcher made no job of, and why (newest first). */
  listSkipped(limit?: number): Promise<{ skipped: SkipRecord[] }> {
    return this.request('GET', `/v1/ingest/skipped${limit ? `?limit=${limit}` : ''}`);
  }

  listJobs(status?: string, limit?: number): Promise<{ jobs: JobView[] }> {
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (limit !== undefined) q.set('limit', String(limit));
    const query = q.size > 0 ? `?${q}` : '';
    return this.request('GET', `/v1/jobs${query}`, undefined, {}, hasJobs);
  }

  /** An input (object version) and its jobs, one per pipeline (GET /v1/inputs/:id). */
  getInput(id: string): Promise<InputView> {
    return this.request('GET', `/v1/inputs/${encodeURIComponent(id)}`, undefined, {}, hasJobs);
  }

  getJob(id: string): Promise<JobView> {
    return this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`, undefined, {}, isJob);
  }

  /**
   * Reads a job's live event stream (GET /v1/jobs/:id/events, text/event-stream) until `onEvent` returns
   * true, reconnecting with Last-Event-ID; StreamUnsupported when the server has no stream (older).
   */
  followEvents(id: string, o: Omit<EventStreamOptions, 'url' | 'token'>): Promise<void> {
    return readEventStream({
      ...o,
      url: `${this.baseUrl}/v1/jobs/${encodeURIComponent(id)}/events`,
      ...(this.token ? { token: this.token } : {}),
    });
  }

  cancel(id: string): Promise<JobView> {
    return this.request('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`, {}, {}, isJob);
  }

  retry(id: string): Promise<JobView> {
    return this.request('POST', `/v1/jobs/${encodeURIComponent(id)}/retry`, {}, {}, isJob);
  }

  /** Every ERROR job of a pipeline, retried (POST /v1/jobs/retry); those that changed meanwhile in `failed`. */
  retryPipeline(
    pipeline: string,
  ): Promise<{ retried: JobView[]; failed: { id: string; code: string; message: string }[]; more: boolean }> {
    return this.request('POST', '/v1/jobs/retry', { pipeline }, {}, (b) => Array.isArray(b.retried));
  }

  createWorkerToken(pool?: string, label?: string): Promise<WorkerToken & { token: string }> {
    return this.request(
      'POST',
      '/v1/workers/tokens',
      { ...(pool ? { pool } : {}), ...(label ? { label } : {}) },
      {},
      (b) => typeof b.token === 'string',
    );
  }

  listWorkerTokens(): Promise<{ tokens: WorkerToken[] }> {
    return this.request('GET', '/v1/workers/tokens', undefined, {}, (b) => Array.isArray(b.tokens));
  }

  revokeWorkerToken(id: string): Promise<WorkerToken> {
    return this.request(
      'POST',
      `/v1/workers/tokens/${encodeURIComponent(id)}/revoke`,
      {},
      {},
      (b) => typeof b.id === 'string',
    );
  }

  createWebhook(body: {
    url: string;
    description?: string;
    eventTypes?: string[];
    match?: Record<string, string>;
  }): Promise<WebhookView & { secret: string }> {
    return this.request('POST', '/v1/webhooks', body, {}, (b) => typeof b.secret === 'string');
  }

  listWebhooks(): Promise<{ webhooks: WebhookView[] }> {
    return this.request('GET', '/v1/webhooks', undefined, {}, (b) => Array.isArray(b.webhooks));
  }

  updateWebhook(id: string, patch: { enabled?: boolean; reason?: string }): Promise<WebhookView> {
    return this.request(
      'PATCH',
      `/v1/webhooks/${encodeURIComponent(id)}`,
      patch,
      {},
      (b) => typeof b.id === 'string',
    );
  }

  rotateWebhookSecret(id: string, overlapSeconds?: number): Promise<WebhookView & { secret: string }> {
    return this.request(
      'POST',
      `/v1/webhooks/${encodeURIComponent(id)}/rotate-secret`,
      overlapSeconds === undefined ? {} : { overlapSeconds },
      {},
      (b) => typeof b.secret === 'string',
    );
  }

  removeWebhook(id: string): Promise<{ id: string; deleted: boolean; discardedDeliveries: number }> {
    return this.request(
      'DELETE',
      `/v1/webhooks/${encodeURIComponent(id)}`,
      undefined,
      {},
      (b) => b.deleted === true,
    );
  }

  testWebhook(id: string): Promise<{
    webhook: string;
    eventId: string;
    ok: boolean;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  }> {
    return this.request(
      'POST',
      `/v1/webhooks/${encodeURIComponent(id)}/test`,
      {},
      {},
      (b) => typeof b.ok === 'boolean',
    );
  }

  webhookDeliveries(
    id: string,
    o: { jobId?: string; status?: string; limit?: number } = {},
  ): Promise<{ deliveries: DeliveryView[] }> {
    const q = new URLSearchParams();
    if (o.jobId) q.set('jobId', o.jobId);
    if (o.status) q.set('status', o.status);
    if (o.limit !== undefined) q.set('limit', String(o.limit));
    const query = q.size > 0 ? `?${q}` : '';
    return this.request(
      'GET',
      `/v1/webhooks/${encodeURIComponent(id)}/deliveries${query}`,
      undefined,
      {},
      (b) => Array.isArray(b.deliveries),
    );
  }

  redeliver(deliveryId: string): Promise<DeliveryView> {
    return this.request(
      'POST',
      `/v1/deliveries/${encodeURIComponent(deliveryId)}/redeliver`,
      {},
      {},
      (b) => typeof b.id === 'string',
    );
  }

  async upload(
    file: string,
    key: string,
    template?: string,
  ): Promise<{ object: ObjectInfo; jobs: JobView[] }> {
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) throw new SluiceError('VALIDATION_FAILED', `${file} is not a readable file`);
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream;
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    const query = template ? `?template=${encodeURIComponent(template)}` : '';
    return this.request(
      'PUT',
      `/v1/uploads/${encoded}${query}`,
      body,
      {
        'content-type': 'application/octet-stream',
        'content-length': String(stat.size),
      },
      hasJobs,
    );
  }

  private async request<T>(
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
    looksRight: (body: Record<string, unknown>) => boolean = () => true,
  ): Promise<T> {
    let res: Response;
    try {
      const isStream = body instanceof ReadableStream;
      const auth: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
      res = await fetch(this.baseUrl + route, {
        method,
        headers: {
          ...auth,
          ...(isStream ? headers : body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: isStream ? body : body !== undefined ? JSON.stringify(body) : undefined,
        ...(isStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      throw new SluiceError(
        'SERVER_UNREACHABLE',
        `cannot reach Sluice at ${this.baseUrl} (${(err as Error).message}); start it with \`sluice serve\` or pass --server`,
      );
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const answer = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : null;
    // Anything else on that address (a web site, another API, a proxy's error page) answers without
    // Sluice's error codes or shapes: say so rather than fail on what it sent.
    const notSluice = () =>
      new SluiceError(
        'NOT_SLUICE',
        `${this.baseUrl} is not a Sluice server: ${method} ${route} answered ${res.status} ${res.headers.get('content-type') ?? 'without a content type'}${answer ? '' : ', not JSON'}; check --server, SLUICE_SERVER or <data-dir>/server.json`,
      );
    if (!res.ok) {
      if (!answer || !isErrorCode(answer.code)) throw notSluice();
      throw new SluiceError(
        answer.code,
        String(answer.detail ?? `${method} ${route} answered ${res.status}`),
      );
    }
    if (!answer || !looksRight(answer)) throw notSluice();
    return answer as T;
  }
}
