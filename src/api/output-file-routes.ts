// GET|HEAD /v1/jobs/:id/files/*: a job's published files over HTTP, for the console's player. The path
// is relative to the job's output prefix in its destination bucket, so the relative URLs inside
// master.m3u8, manifest.mpd and sprites.vtt resolve to their neighbours here; it is validated as an object
// key (no `.` or `..` segment, no encoded separator, not absolute) and so never leaves the prefix. Players
// seek with byte ranges: one range is served (206), an unsatisfiable one is 416, several are answered
// with the whole file (RFC 9110 allows ignoring Range).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SluiceError } from '../errors.ts';
import type { Job } from '../jobs/job.ts';
import { cacheControlOf, contentTypeOf } from '../storage/content-type.ts';
import { validateObjectKey } from '../storage/object-key.ts';
import type { ObjectStore } from '../storage/object-store.ts';

export const FILES_ROUTE = '/v1/jobs/:id/files/*';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one range a `Range` header asks of a file of `size` bytes: null for the whole file (no header,
 * several ranges, another unit or a malformed one, all of which a server may ignore); 'unsatisfiable'
 * when it starts at or past the end (or is an empty suffix).
 */
export function rangeOf(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return null; // invalid: ignored, as RFC 9110 says
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** The object key a file path of the job names (the prefix, then the path); throws INVALID_OBJECT_KEY. */
export function outputFileKey(job: Pick<Job, 'destination'>, rel: string): string {
  const path = validateObjectKey(rel);
  const prefix = job.destination.prefix;
  return prefix === '' || prefix.endsWith('/') ? `${prefix}${path}` : `${prefix}/${path}`;
}

export function registerOutputFileRoutes(
  app: FastifyInstance,
  deps: { objects: ObjectStore; getJob: (idOrPrefix: string) => Promise<Job> },
): void {
  const notFound = (job: Job, rel: string) =>
    new SluiceError(
      'OUTPUT_NOT_FOUND',
      `job ${job.id} has no file ${JSON.stringify(rel)} under its outputs (${job.destination.bucket}/${job.destination.prefix})`,
    );

  const serve = async (
    req: { params: { id: string; '*': string }; headers: Record<string, unknown>; method: string },
    reply: FastifyReply,
    attempt = 1,
  ): Promise<FastifyReply> => {
    const job = await deps.getJob(req.params.id);
    // The router decoded the path once; a second decode (%252e%252e) is the key validator's to refuse.
    // One leading `/` is the separator after the prefix (an output key minus destination.prefix): the
    // path is still under the prefix. Anything else absolute (`//x`) is refused by the validator.
    const given = req.params['*'];
    const rel = given.startsWith('/') ? given.slice(1) : given;
    const key = outputFileKey(job, rel);
    const { bucket } = job.destination;
    const info = await deps.objects.stat(bucket, key);
    if (!info) throw notFound(job, rel);
    const etag = JSON.stringify(info.etag);
    // Only an answer with the file's bytes (or a 304 for them) carries its validators and cache lifetime:
    // an error under them (a 416, a failed read) could be kept by a browser cache for a year.
    const describe = () =>
      reply
        .header('content-type', contentTypeOf(key))
        .header('etag', etag)
        .header('last-modified', new Date(info.lastModified).toUTCString())
        // Behind the API's access rule: a shared cache must not keep it; versioned files never change.
        .header('cache-control', cacheControlOf(rel).replace('public', 'private'));
    reply.header('accept-ranges', 'bytes').header('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === etag) return describe().code(304).send();
    const header = req.headers.range;
    const range = rangeOf(typeof header === 'string' ? header : undefined, info.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${info.size}`);
      throw new SluiceError(
        'RANGE_NOT_SATISFIABLE',
        `range ${String(header)} is beyond ${rel}, which has ${info.size} bytes`,
      );
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? info.size - 1;
    const answer = () => {
      describe().code(range ? 206 : 200);
      if (range) reply.header('content-range', `bytes ${start}-${end}/${info.size}`);
      return reply.header('content-length', String(Math.max(0, end - start + 1)));
    };
    if (req.method === 'HEAD' || info.size === 0) return answer().send();
    const opened = await deps.objects.openRead(bucket, key, { start, end }).catch((err: unknown) => {
      // Gone between the stat and the read (a republish): as missing.
      if (err instanceof SluiceError && err.code === 'OBJECT_NOT_FOUND') throw notFound(job, rel);
      throw err;
    });
    if (opened.info.etag !== info.etag && attempt < 3) {
      // Replaced between the stat and the read (an entry point republished): the headers would describe
      // the old bytes, so start again from the new object.
      opened.stream.destroy();
      return serve(req, reply, attempt + 1);
    }
    return answer().send(opened.stream);
  };

  // HEAD is its own route: Fastify's automatic HEAD would open the file only to throw its bytes away.
  app.route<{ Params: { id: string; '*': string } }>({
    method: ['GET', 'HEAD'],
    url: FILES_ROUTE,
    exposeHeadRoute: false,
    handler: (req, reply) => serve(req, reply),
  });
}
