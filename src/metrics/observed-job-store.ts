// The one seam where job metrics are observed: the job store every part of the control plane writes
// through (scheduler, Worker API, pull workers, the API's retry and cancel, ingest's supersede). Wrapping
// it in the composition root (service.ts) sees every claim and transition, whoever makes it, without a
// call in each route: what the store accepted is what is counted, and a refused write (LEASE_LOST,
// INVALID_TRANSITION) throws before anything is observed.
import type { JobStore } from '../jobs/job-store.ts';
import type { JobObserver } from './metrics.ts';

/** `store` with its claims and transitions reported to `observer`; everything else is the store's own. */
export function observeJobStore<S extends JobStore>(store: S, observer: JobObserver): S {
  const overrides: Partial<JobStore> = {
    async claimNext(leaseToken, leaseMs, now, opts) {
      const job = await store.claimNext(leaseToken, leaseMs, now, opts);
      if (job) {
        observer.claimed(job, opts?.pool, now);
        observer.transitioned({ type: 'claim', leaseToken, leaseMs }, job);
      }
      return job;
    },
    async transition(id, t, now) {
      const job = await store.transition(id, t, now);
      observer.transitioned(t, job);
      return job;
    },
    async supersede(versionGroup, byJobId, now) {
      const jobs = await store.supersede(versionGroup, byJobId, now);
      for (const job of jobs) observer.transitioned({ type: 'supersede', by: byJobId, message: '' }, job);
      return jobs;
    },
  };
  // A Proxy rather than a subclass or a copy: the store's other methods (and those of the seams it also
  // implements: worker tokens, skip records, sequencers) run on the store itself, bound to it.
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof JobStore];
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
