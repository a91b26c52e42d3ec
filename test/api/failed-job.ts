// A job of a pipeline that ended in ERROR (made, claimed and failed in the store), for tests of retries.
import type { JobError } from '../../src/jobs/job.ts';
import type { JobStore } from '../../src/jobs/job-store.ts';
import { getBuiltinTemplate } from '../../src/templates/builtin-templates.ts';

export async function failedJob(
  store: JobStore,
  key: string,
  pipeline: string,
  error: JobError = { code: 'INPUT_UNREADABLE', message: 'not media' },
): Promise<string> {
  const { job } = await store.create(
    {
      pipeline,
      input: { bucket: 'source', key, size: 10, etag: `e-${key}` },
      templateName: 'abr-default',
      template: getBuiltinTemplate('abr-default'),
      destination: { bucket: 'destination', prefix: `${key}/abr-default` },
      userMetadata: {},
      idempotencyKey: JSON.stringify([pipeline, key]),
    },
    new Date(),
  );
  const claimed = await store.claimNext(`tok-${key}`, 30_000, new Date());
  if (claimed?.id !== job.id) throw new Error(`claimed ${claimed?.id}, not the new job ${job.id}`);
  await store.transition(
    job.id,
    { type: 'fail', leaseToken: `tok-${key}`, error, retryable: false, retryDelayMs: 0 },
    new Date(),
  );
  return job.id;
}
