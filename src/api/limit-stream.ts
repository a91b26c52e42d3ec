import { Readable } from 'node:stream';
import { SluiceError } from '../errors.ts';

/** Passes a stream through, failing it with PAYLOAD_TOO_LARGE past `max` bytes (no length declared). */
export function limitStream(source: NodeJS.ReadableStream, max: number): Readable {
  let seen = 0;
  return Readable.from(
    (async function* () {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        seen += chunk.length;
        if (seen > max)
          throw new SluiceError('PAYLOAD_TOO_LARGE', `upload is larger than the limit of ${max} bytes`);
        yield chunk;
      }
    })(),
  );
}
