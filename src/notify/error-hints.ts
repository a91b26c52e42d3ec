// What to do about a job that ended in ERROR, by its code: one line a person reading a notification can
// act on without opening the docs (docs/errors.md has the full table). Codes not listed here get the
// generic hint; a job's own error message says the particulars.
import type { ErrorCode } from '../errors.ts';

const INPUT_LIMIT =
  'the input is beyond a limit of the template or the server (SLUICE_MAX_INPUT_*): send a smaller input, or raise the limit in the template and retry the job';

const HINTS: Partial<Record<ErrorCode, string>> = {
  INPUT_UNREADABLE:
    'the input is not a media file ffmpeg can read (a truncated upload, a wrong extension, or not video at all): check the file plays, then upload it again',
  INPUT_EMPTY: 'the input has 0 bytes: the upload probably failed; upload the file again',
  INPUT_NO_VIDEO: 'the input has no video stream: use the audio-only template for audio files',
  INPUT_NO_AUDIO: 'the audio-only template got an input without audio: use a video template',
  INPUT_NO_OUTPUT:
    'ffmpeg read the input but could not make an output from it: the stderr tail (sluice job {id}) says why; try another template',
  INPUT_FORMAT_NOT_ALLOWED:
    'the container is not accepted (playlists, concat lists and image sequences are refused): convert it to MP4, MOV, MKV or WebM and upload it again',
  INPUT_TOO_BIG: INPUT_LIMIT,
  INPUT_TOO_MANY_PIXELS: INPUT_LIMIT,
  INPUT_TOO_LONG: INPUT_LIMIT,
  INPUT_TOO_MANY_STREAMS: INPUT_LIMIT,
  INPUT_TOO_MANY_FRAMES: INPUT_LIMIT,
  INPUT_TOO_MUCH_WORK: INPUT_LIMIT,
  INPUT_DISPLAY_TOO_LARGE: INPUT_LIMIT,
  INPUT_BAD_ASPECT_RATIO: INPUT_LIMIT,
  JOB_TIMEOUT:
    "the encode ran longer than the template's timeoutSeconds: raise it (or pick a faster preset) and retry the job",
  JOB_CPU_LIMIT:
    "the encode used more CPU time than the template's cpuSeconds: raise it (or pick a faster preset) and retry the job",
  TRANSCODE_FAILED:
    'ffmpeg failed on every attempt: the stderr tail (sluice job {id}) says why; fix the cause and retry the job',
  WORKER_LOST:
    'the worker stopped without reporting on every attempt (out of memory, a killed machine): check the worker hosts, then retry the job',
  STORAGE_FAILED:
    'reading or writing a bucket failed on every attempt: check the object store, then retry the job',
  STORAGE_UNREACHABLE:
    'the object store did not answer: check SLUICE_S3_ENDPOINT and the network, then retry the job',
  STORAGE_ACCESS_DENIED:
    "the object store refused Sluice's credentials: check the access key and its policy, then retry the job",
  BUCKET_NOT_FOUND: 'a bucket the job uses does not exist: create it, then retry the job',
  OBJECT_NOT_FOUND: 'the input was removed before the job read it: upload it again',
  TEMPLATE_NOT_FOUND: 'the template is gone: restore it (sluice templates list), then retry the job',
  INVALID_TEMPLATE:
    'the template or settings file is not valid: the message names the field; fix it and retry',
  FFMPEG_NOT_FOUND:
    'the worker has no usable ffmpeg: install ffmpeg or set SLUICE_FFMPEG / SLUICE_FFPROBE, then retry the job',
};

export const GENERIC_HINT =
  'see the error code in docs/errors.md; `sluice job {id}` shows the job and its ffmpeg output. Once the cause is fixed, `sluice retry {id}` runs it again';

/** The hint for an error code (the generic one for codes without their own), naming the job in commands. */
export function errorHint(code: string, jobId = 'ID'): string {
  return ((HINTS as Record<string, string | undefined>)[code] ?? GENERIC_HINT).replaceAll('{id}', jobId);
}
