// The one-attempt worker: claim -> download -> probe -> plan -> one ffmpeg -> upload (manifests last) ->
// complete, with heartbeats carrying progress all along. It touches no database; it exits when done.
// `runAttempt` is the attempt itself, given an assignment: a launched worker claims its one job by id
// (`runWorker`), a remote pull worker (pull-worker.ts) runs the assignments it claims from the queue.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { JobOutput, JobPhase, JobProgress } from '../jobs/job.ts';
import { partName } from '../jobs/job-parts.ts';
import type { MediaInfo } from '../media/media-info.ts';
import type { FfmpegRun } from '../media/run-ffmpeg.ts';
import { baseNameOf } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { type AttemptStorage, localAttemptStorage } from './attempt-storage.ts';
import { chunksOf } from './chunked-encode.ts';
import { type EncodeResult, encode } from './encode.ts';
import { renditionOutputs } from './finish-packaging.ts';
import { requireRecordedSize, requireRecordedVersion, supersededSince } from './input-version.ts';
import { inspectInput } from './inspect-input.ts';
import { publishList, versionFolder } from './outputs.ts';
import {
  hasValidReceipt,
  type PartDone,
  type PartRun,
  runEncodePart,
  runStitchPart,
} from './part-attempt.ts';
import { versionName } from './publish.ts';
import { scratchPrefix } from './scratch-name.ts';
import {
  type Assignment,
  UNREACHABLE_FLOOR_MS,
  UNREACHABLE_LEASES,
  WorkerApiClient,
} from './worker-api-client.ts';

export interface WorkerOptions {
  serverUrl: string;
  jobId: string;
  token: string;
  objects: ObjectStore;
  log: Logger;
}

/** SPLIT: the job was split into parts (chunked encoding), which run as jobs of their own. */
export type AttemptResult = 'COMPLETE' | 'SPLIT' | 'FAILED' | 'ABORTED' | 'PREEMPTED';

export async function runWorker(o: WorkerOptions): Promise<AttemptResult> {
  const api = new WorkerApiClient(o.serverUrl, o.jobId, o.token);
  // A preemption notice may come while the claim is on its way: noted, and the job handed back at once.
  let termBeforeClaim = false;
  const early = () => {
    termBeforeClaim = true;
  };
  process.once('SIGTERM', early);
  const assignment = await api.claim().finally(() => process.off('SIGTERM', early));
  if (termBeforeClaim) {
    await api
      .release({ reason: 'PREEMPTED', message: 'the worker received SIGTERM before it started' })
      .catch((err) => o.log.warn({ err: (err as Error).message }, 'could not hand the job back'));
    return 'PREEMPTED';
  }
  return runAttempt({ assignment, api, objects: localAttemptStorage(o.objects), log: o.log });
}

export interface AttemptOptions {
  assignment: Assignment;
  /** The Worker API client of this attempt (its job id and lease token). */
  api: WorkerApiClient;
  objects: AttemptStorage;
  log: Logger;
}

/** One attempt of an assigned job, from the input's download to the reported result. */
export async function runAttempt(o: AttemptOptions): Promise<AttemptResult> {
  const { assignment, api } = o;
  const { job } = assignment;
  const log = o.log.child({ jobId: job.id, attempt: job.attempt });
  const workDir = await o.objects.workDir(scratchPrefix(job.id, api.token));
  const input = path.join(workDir, `input${path.extname(job.input.key).slice(0, 16)}`);
  // What the user or the API sees names the object, never this server's scratch folder (ffprobe and
  // ffmpeg quote their input path; file errors quote theirs). The log keeps the paths, at debug.
  const shownInput = `${job.input.bucket}/${job.input.key}`;
  const scrub = (text: string) => text.split(input).join(shownInput).split(workDir).join('(scratch)');
  const tail = () => scrub(running.ffmpeg?.stderrTail() ?? '');

  let phase: JobPhase = 'PROBING';
  let progress: JobProgress = { percent: 0, fps: null, speed: null, etaSeconds: null };
  const running: { ffmpeg: FfmpegRun | null } = { ffmpeg: null };
  let aborted: string | null = null;
  const abort = (why: string) => {
    if (aborted) return;
    aborted = why;
    log.warn({ why }, 'attempt aborted');
    running.ffmpeg?.kill();
  };

  let beating = false;
  const beat = async (extra: { inputMedia?: MediaInfo } = {}) => {
    if (beating && !extra.inputMedia) return;
    beating = true;
    try {
      await api.heartbeat({ phase, progress, stderrTail: tail(), ...extra });
    } catch (err) {
      const e = toSluiceError(err);
      // The job was canceled, or another attempt holds it now: stop at once, report nothing.
      if (e.code === 'LEASE_LOST' || e.code === 'INVALID_TRANSITION' || e.code === 'JOB_NOT_FOUND')
        abort(e.message);
      // The server is down (killed, restarting): keep encoding and keep beating, within the bound.
      else if (e.code === 'SERVER_UNREACHABLE' && api.unreachableTooLong())
        abort(
          `the server has not answered for ${api.silentSeconds().toFixed(0)} s (over ${UNREACHABLE_LEASES} lease periods and ${UNREACHABLE_FLOOR_MS / 1000} s); the attempt is given up`,
        );
      else log.warn({ err: e.message }, 'heartbeat failed; will retry');
    } finally {
      beating = false;
    }
  };
  const timer = setInterval(() => void beat(), assignment.heartbeatSeconds * 1000);
  let timedOut = false;
  const limit = job.template.timeoutSeconds;
  const deadline =
    limit > 0
      ? setTimeout(() => {
          timedOut = true;
          log.warn({ limit }, 'attempt exceeded its time limit');
          running.ffmpeg?.kill();
        }, limit * 1000)
      : null;
  // SIGTERM is a preemption notice (spot capacity reclaimed, a node drained, a pod evicted): ffmpeg is
  // stopped and the job handed back at once, so the next pool can take it without waiting out a lease
  // and without charging an attempt. SIGINT is the control plane's own stop (cancel, lapsed lease,
  // shutdown), which decides itself what becomes of the job.
  let handedBack: Promise<unknown> | null = null;
  const onTerm = () => {
    if (aborted) return;
    abort('worker received SIGTERM (preemption notice); handing the job back');
    handedBack = api.release({ reason: 'PREEMPTED', message: 'the worker received SIGTERM' }).then(
      () => log.info('job handed back after the preemption notice'),
      (err) => log.warn({ err: (err as Error).message }, 'could not hand the job back; its lease will lapse'),
    );
  };
  const onInt = () => abort('worker received SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);

  let media: MediaInfo | null = null;
  const hooks = {
    onProgress: (p: JobProgress) => {
      progress = p;
    },
    onStart: (run: FfmpegRun) => {
      running.ffmpeg = run;
      if (aborted) run.kill();
    },
  };
  const stillWanted = () => !aborted && !timedOut;
  const fetchInput = async () => {
    await requireRecordedVersion(o.objects, job.input);
    await o.objects.download(job.input.bucket, job.input.key, input);
    await requireRecordedSize(input, job.input);
    await requireRecordedVersion(o.objects, job.input);
  };
  try {
    const part = job.part && job.parentId ? { part: job.part, parentId: job.parentId } : null;
    const partRun = (m: MediaInfo): PartRun => ({
      template: job.template,
      media: m,
      input,
      workDir,
      objects: o.objects,
      bucket: job.destination.bucket,
      parentId: part?.parentId ?? job.id,
      madeBy: versionName(job.id, job.attempt),
      ...hooks,
    });
    let encoded: EncodeResult;
    let report: PartDone | null = null;
    if (part && part.part.kind !== 'stitch') {
      // A chunk or the audio part of a chunked job: planned on the parent's probe of the input.
      media = job.inputMedia ?? null;
      if (!media)
        throw new SluiceError('INTERNAL', `part ${job.id} came without its parent's probe of the input`);
      const run = partRun(media);
      let done: PartDone;
      if (await hasValidReceipt(run, part.part)) {
        log.info({ part: partName(part.part) }, 'the part’s receipt is there already: nothing to encode');
        done = { reused: true, files: 0, bytes: 0 };
      } else {
        await fetchInput();
        phase = 'TRANSCODING';
        void beat();
        done = await runEncodePart(run, part.part, stillWanted);
        if (aborted) throw new SluiceError('INTERNAL', aborted);
        if (timedOut) throw new SluiceError('JOB_TIMEOUT', 'time limit');
      }
      clearInterval(timer);
      await api.complete({ outputs: [], stderrTail: tail(), part: done });
      log.info({ part: partName(part.part), ...done }, 'part complete');
      return 'COMPLETE';
    }
    if (part && part.part.kind === 'stitch') {
      media = job.inputMedia ?? null;
      if (!media)
        throw new SluiceError('INTERNAL', `part ${job.id} came without its parent's probe of the input`);
      phase = 'STITCHING';
      void beat();
      const stitched = await runStitchPart(partRun(media), part.part.chunks);
      encoded = stitched.encoded;
      report = { reused: false, files: 0, bytes: 0, madeBy: stitched.madeBy };
    } else {
      await fetchInput();
      media = await inspectInput(input, job.template.limits, (probed) => beat({ inputMedia: probed }));
      const chunks = chunksOf(job.template, media);
      if (chunks) {
        // Long enough to encode in chunks: the parts run as jobs of their own, on any worker of the pool.
        clearInterval(timer);
        const split = await api.split({ chunks, inputMedia: media });
        log.info({ chunks: chunks.length, reused: split.reused }, 'job split into parts');
        return 'SPLIT';
      }
      phase = 'TRANSCODING';
      void beat();
      encoded = await encode(job.template, media, input, workDir, hooks);
    }
    const { plan, local, measured, spriteVtt } = encoded;
    if (aborted) throw new SluiceError('INTERNAL', aborted);
    if (timedOut) throw new SluiceError('JOB_TIMEOUT', 'time limit');
    log.info({ renditions: plan.renditions.map((r) => `${r.width}x${r.height}`) }, 'encoded');

    phase = 'UPLOADING';
    progress = { ...progress, percent: 100, etaSeconds: 0 };
    void beat();
    // A hard-linked input grows with a writer that appends in place: the bytes encoded must still be
    // the version recorded.
    await requireRecordedVersion(o.objects, job.input);
    const version = versionName(job.id, job.attempt);
    const set = job.destination.prefix;
    const items = await publishList(plan, { ...local, spriteVtt }, baseNameOf(job.input.key), version);
    const outputs: JobOutput[] = renditionOutputs(
      plan,
      measured,
      job.destination.bucket,
      `${set}/${versionFolder(version)}`,
    );
    const published = await o.objects.publish(
      job.destination.bucket,
      set,
      items,
      { jobId: job.id, attempt: job.attempt },
      stillWanted,
    );
    outputs.push(...published.outputs);
    const segmentBytes = published.segmentBytes;
    if (segmentBytes > 0) {
      outputs.push({
        type: 'segments',
        bucket: job.destination.bucket,
        key: `${set}/${versionFolder(version)}/`,
        size: segmentBytes,
      });
    }
    clearInterval(timer);
    if (plan.skipped?.length) log.info({ skipped: plan.skipped }, 'template parts left out');
    await api.complete({
      outputs,
      inputMedia: media,
      stderrTail: tail(),
      ...(plan.skipped?.length ? { skipped: plan.skipped } : {}),
      ...(report ? { part: report } : {}),
    });
    log.info({ outputs: outputs.length }, 'attempt complete');
    return 'COMPLETE';
  } catch (err) {
    clearInterval(timer);
    if (handedBack) {
      await handedBack;
      return 'PREEMPTED';
    }
    if (aborted) return 'ABORTED';
    const e = timedOut
      ? new SluiceError(
          'JOB_TIMEOUT',
          `the attempt ran longer than the template's limit of ${limit} s and was stopped`,
        )
      : ((await supersededSince(o.objects, job.input)) ?? toSluiceError(err));
    // The server no longer expects this attempt's result (it took it before going down and the resent
    // `complete` came too late, or the job was canceled or put back meanwhile): there is nothing to report.
    if (e.code === 'LEASE_LOST' || e.code === 'INVALID_TRANSITION' || e.code === 'JOB_NOT_FOUND') {
      log.warn({ code: e.code, err: e.message }, 'the server no longer expects this attempt');
      return 'ABORTED';
    }
    log.debug({ code: e.code, err: e.message, workDir }, 'attempt failed (unscrubbed)');
    const message = scrub(e.message);
    log.error({ code: e.code, err: message }, 'attempt failed');
    await api
      .fail({
        code: e.code,
        message,
        stderrTail: tail(),
        ...brokenParts(e),
      })
      .catch((failErr) => log.error({ err: (failErr as Error).message }, 'could not report the failure'));
    return 'FAILED';
  } finally {
    clearInterval(timer);
    if (deadline) clearTimeout(deadline);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The parts a stitch found missing or broken (its error's details), for the server to encode again. */
function brokenParts(e: SluiceError): { parts?: { chunks: number[]; audio: boolean } } {
  if (e.code !== 'CHUNK_MISSING' && e.code !== 'CHUNK_DISCONTINUITY') return {};
  const d = e.details ?? {};
  const chunks = Array.isArray(d.chunks)
    ? d.chunks.filter((c): c is number => Number.isInteger(c) && c >= 0)
    : [];
  return { parts: { chunks, audio: d.audio === true } };
}
