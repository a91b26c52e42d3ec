// S3's sequencer: per key, a later event has a greater one (hex, of varying length: compared after
// left-padding to equal length). The highest seen per (bucket, key) is kept in the job store, so an
// event older than one already taken is dropped before the object is even looked at.
import { malformed } from './notifications/object-reference.ts';

/** Padded width: S3's are 16-18 hex digits today; 64 leaves room. Longer is refused. */
export const SEQUENCER_WIDTH = 64;

/** Lower case, left-padded with 0 to SEQUENCER_WIDTH: then text order is numeric order. */
export function normalizeSequencer(s: string): string {
  const hex = s.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > SEQUENCER_WIDTH) {
    throw malformed(
      `sequencer ${JSON.stringify(s)} is not a hex number of at most ${SEQUENCER_WIDTH} digits`,
    );
  }
  return hex.padStart(SEQUENCER_WIDTH, '0');
}

export interface ObjectSequencerStore {
  /**
   * Records `sequencer` (normalized) for the key unless a higher one is there; returns 'stale' when a
   * higher one is (the event is older than one taken), else 'current' (equal: a redelivery).
   */
  advanceSequencer(bucket: string, key: string, sequencer: string, now: Date): Promise<'current' | 'stale'>;
}
