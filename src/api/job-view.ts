// What the API shows of a job: everything but the lease (hash), plus a progress summary.
import type { Job } from '../jobs/job.ts';

export function jobView(job: Job) {
  const { leaseHash: _lease, idempotencyKey: _key, versionGroup: _group, template, ...rest } = job;
  return { ...rest, template: { name: job.templateName, settings: template } };
}
export type JobView = ReturnType<typeof jobView>;
