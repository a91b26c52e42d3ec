// The scratch folder prefix of one attempt: the job id plus a tag derived from the attempt's lease
// token. The launcher removes what a killed worker left behind by this prefix, so cleaning up after one
// attempt never touches the folder of the job's next attempt, which may already be running (a preempted
// job is offered again at once). The tag is not the token, nor the hash the store keeps.
import { createHash } from 'node:crypto';

export function scratchPrefix(jobId: string, leaseToken: string): string {
  const tag = createHash('sha256').update(`scratch:${leaseToken}`, 'utf8').digest('hex').slice(0, 12);
  return `sluice-${jobId}-${tag}-`;
}
