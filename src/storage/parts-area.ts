// Where a chunked job's parts keep their files until the stitch has published the set: a folder of the
// destination bucket that belongs to the parent job, `.parts/<job id>/<part name>/...`, beside the
// publishing's `.staging/`. Each part writes its own folder, its receipt last; the stitch reads them all.
// It stays while the job can still be retried (resume reuses every part with a valid receipt) and goes
// once the job is COMPLETE.
import { SluiceError } from '../errors.ts';
import { validateObjectKey } from './object-key.ts';

export function partsPrefix(parentId: string): string {
  return `.parts/${parentId}`;
}

/** The key of a part's file, `<part name>/<file>` relative to the parts area; no escaping it. */
export function partKey(parentId: string, rel: string): string {
  const clean = validateObjectKey(rel);
  const [folder, ...rest] = clean.split('/');
  if (!folder || rest.length === 0 || rest.some((s) => s === '..' || s === '.' || s === '')) {
    throw new SluiceError(
      'OUTPUT_OUTSIDE_DESTINATION',
      `part file ${JSON.stringify(rel)} is refused: a part writes <part name>/<file> inside its job's parts area`,
      { key: rel },
    );
  }
  return `${partsPrefix(parentId)}/${clean}`;
}

/** The receipt of a part, relative to the parts area: the last file it writes. */
export function receiptOf(partName: string): string {
  return `${partName}/receipt.json`;
}
