// The worker's side of the Worker API: plain HTTP with the attempt's token, nothing else of the service.
import { isErrorCode, SluiceError } from '../errors.ts';
import type { JobOutput, JobPhase, JobProgress, ObjectRef } from '../jobs/job.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { Template } from '../templates/template.ts';

export interface Assignment {
  job: {
    id: string;
    attempt: number;
    input: ObjectRef;
    template: Template;
    destination: { bucket: string; prefix: string };
  };
  heartbeatSeconds: number;
  leaseSeconds: number;
}

export interface HeartbeatBody {
  phase?: JobPhase;
  progress?: JobProgress;
  inputMedia?: MediaInfo;
  stderrTail?: string;
}

export class WorkerApiClient {
  constructor(
    private readonly serverUrl: string,
    private readonly jobId: string,
    private readonly token: string,
  ) {}

  claim(): Promise<Assignment> {
    return this.call('claim', {});
  }

  heartbeat(body: HeartbeatBody): Promise<{ status: string }> {
    return this.call('heartbeat', body);
  }

  complete(body: {
    outputs: JobOutput[];
    inputMedia?: MediaInfo;
    stderrTail?: string;
  }): Promise<{ status: string }> {
    return this.call('complete', body);
  }

  /** The server decides from `code` whether another attempt follows (ERROR_CATALOGUE). */
  fail(body: { code: string; message: string; stderrTail?: string }): Promise<{ status: string }> {
    return this.call('fail', body);
  }

  private async call<T>(op: string, body: unknown): Promise<T> {
    const url = `${this.serverUrl}/v1/worker/jobs/${encodeURIComponent(this.jobId)}/${op}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new SluiceError('SERVER_UNREACHABLE', `Worker API ${op} failed: ${(err as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = isErrorCode(json.code) ? json.code : 'INTERNAL';
      throw new SluiceError(code, String(json.detail ?? `Worker API ${op} answered ${res.status}`));
    }
    return json as T;
  }
}
