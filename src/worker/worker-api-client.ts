// The worker's side of the Worker API: plain HTTP with the attempt's token, nothing else of the service.
import { isErrorCode, SluiceError } from '../errors.ts';
import type { JobOutput, JobPart, JobPhase, JobProgress, ObjectRef } from '../jobs/job.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { ChunkRange } from '../templates/chunk-plan.ts';
import type { Template } from '../templates/template.ts';
import type { AttemptUrls } from './remote-object-store.ts';
import { ServerList } from './server-list.ts';

export interface Assignment {
  job: {
    id: string;
    attempt: number;
    input: ObjectRef;
    template: Template;
    destination: { bucket: string; prefix: string };
    /** A part of a chunked job: its parent, which part, and the parent's probe of the input (issue 13). */
    parentId?: string;
    part?: JobPart;
    inputMedia?: MediaInfo;
  };
  heartbeatSeconds: number;
  leaseSeconds: number;
  /** A pulled assignment's own lease token (a launched worker got its token from the launcher). */
  leaseToken?: string;
  /** Where a pulled attempt reads its input and writes its outputs (remote-object-store.ts). */
  storage?: AttemptUrls;
}

export interface HeartbeatBody {
  phase?: JobPhase;
  progress?: JobProgress;
  inputMedia?: MediaInfo;
  stderrTail?: string;
}

/**
 * How long, in lease periods counted from the server's last answer, a worker keeps its attempt going
 * while the server does not answer. One period is the lease the server granted; the second covers a
 * restart: a control plane that starts after a crash gives the attempts it inherits one more lease period,
 * counted from its start, to check in. A server back within that time gets the attempt's heartbeats and
 * result; past it the worker gives up, and a server that comes back later releases the job uncharged.
 */
export const UNREACHABLE_LEASES = 2;

/**
 * The bound's floor: a control plane's restart takes seconds (a process start, a database open) whatever
 * the lease, so a short lease (tests, chaos runs) must not make its workers give up during one.
 */
export const UNREACHABLE_FLOOR_MS = 30_000;

/** The longest a pull worker's claim waits at the server for work (a long poll) before a 204. */
export const MAX_CLAIM_WAIT_SECONDS = 20;

/** First pause before a result (complete, fail) is sent again to a server that did not answer. */
const RESEND_FIRST_MS = 200;

export class WorkerApiClient {
  /** When the server last answered a call (any status): the start of an outage, if one is running. */
  private lastAnswer = Date.now();
  /** Until the claim says otherwise: the configuration's defaults. */
  private leaseMs = 30_000;
  private heartbeatMs = 2_000;

  private readonly servers: ServerList;

  constructor(
    /** One control plane's URL, or the replicas a pull worker fails over between (server-list.ts). */
    server: string | ServerList,
    private readonly jobId: string,
    /** The attempt's lease token (also tags its scratch folder: scratch-name.ts). */
    readonly token: string,
    private readonly unreachableFloorMs = UNREACHABLE_FLOOR_MS,
  ) {
    this.servers = typeof server === 'string' ? new ServerList(server) : server;
  }

  /** Resent like a result: a worker launched just before its server died claims from the next one. */
  async claim(): Promise<Assignment> {
    const assignment = await this.deliver<Assignment>('claim', {});
    this.adopt(assignment);
    return assignment;
  }

  /** Takes the lease and heartbeat periods of an assignment received otherwise (a pull worker's claim). */
  adopt(assignment: Pick<Assignment, 'leaseSeconds' | 'heartbeatSeconds'>): void {
    this.leaseMs = assignment.leaseSeconds * 1000;
    this.heartbeatMs = assignment.heartbeatSeconds * 1000;
  }

  /** Seconds since the server last answered. */
  silentSeconds(now = Date.now()): number {
    return (now - this.lastAnswer) / 1000;
  }

  /** The server has not answered for UNREACHABLE_LEASES lease periods (or the floor): give the attempt up. */
  unreachableTooLong(now = Date.now()): boolean {
    return now - this.lastAnswer > Math.max(UNREACHABLE_LEASES * this.leaseMs, this.unreachableFloorMs);
  }

  heartbeat(body: HeartbeatBody): Promise<{ status: string }> {
    return this.call('heartbeat', body);
  }

  complete(body: {
    outputs: JobOutput[];
    inputMedia?: MediaInfo;
    stderrTail?: string;
    /** Parts of the template this input could not have (plan.skipped), recorded on the complete event. */
    skipped?: { part: string; reason: string }[];
    /** A chunk or audio part: whether its receipt was there already, and what it stored. */
    part?: { reused: boolean; files: number; bytes: number; madeBy?: Record<string, string> };
  }): Promise<{ status: string }> {
    return this.deliver('complete', body);
  }

  /** The server decides from `code` whether another attempt follows (ERROR_CATALOGUE). */
  fail(body: {
    code: string;
    message: string;
    stderrTail?: string;
    /** A stitch's CHUNK_MISSING / CHUNK_DISCONTINUITY: the parts to encode again. */
    parts?: { chunks: number[]; audio: boolean };
  }): Promise<{ status: string }> {
    return this.deliver('fail', body);
  }

  /** Splits the job into parts (chunks, audio); the attempt ends there, the parts run as jobs of their own. */
  split(body: {
    chunks: ChunkRange[];
    inputMedia: MediaInfo;
  }): Promise<{ status: string; parts: number; reused: number }> {
    return this.deliver('split', body);
  }

  /** Hands the job back on a preemption notice; the server queues it again without charging an attempt. */
  release(body: { reason: 'PREEMPTED'; message?: string }): Promise<{ status: string }> {
    return this.call('release', body);
  }

  /**
   * An attempt's result is sent until the server answers: one that is down (killed, restarting) is waited
   * for with backoff, up to the bound above. The pause never exceeds the heartbeat interval, so
   * a restarted server hears from the worker well within the lease it gave the inherited attempt.
   */
  private async deliver<T>(op: string, body: unknown): Promise<T> {
    let pauseMs = RESEND_FIRST_MS;
    for (;;) {
      try {
        return await this.call<T>(op, body);
      } catch (err) {
        // A version conflict (the job changed under the server while it wrote) is worth sending again.
        const resend =
          err instanceof SluiceError &&
          (err.code === 'SERVER_UNREACHABLE' || err.code === 'VERSION_CONFLICT');
        if (!resend || this.unreachableTooLong()) throw err;
        await new Promise((r) => setTimeout(r, pauseMs));
        pauseMs = Math.min(pauseMs * 2, this.heartbeatMs);
      }
    }
  }

  private async call<T>(op: string, body: unknown): Promise<T> {
    const route = `/v1/worker/jobs/${encodeURIComponent(this.jobId)}/${op}`;
    let res: Response;
    try {
      res = await this.servers.fetch(
        route,
        () => ({
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
        { timeoutMs: 15_000, what: `Worker API ${op}` },
      );
    } catch (err) {
      throw new SluiceError(
        'SERVER_UNREACHABLE',
        `${(err as Error).message} (no answer for ${this.silentSeconds().toFixed(0)} s)`,
      );
    }
    this.lastAnswer = Date.now();
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = isErrorCode(json.code) ? json.code : 'INTERNAL';
      throw new SluiceError(code, String(json.detail ?? `Worker API ${op} answered ${res.status}`));
    }
    return json as T;
  }
}
