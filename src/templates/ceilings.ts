// Server-wide ceilings, pure: whatever a template or a settings file asks for, a job never runs with a
// time, CPU, attempt or input limit above what the operator configured. A template's 0 ("no limit")
// means "up to the ceiling".
import type { InputLimits } from '../media/input-policy.ts';
import type { Template } from './template.ts';

export interface Ceilings {
  timeoutSeconds: number;
  cpuSeconds: number;
  maxAttempts: number;
  limits: InputLimits;
}

/** `value` held under `ceiling`; 0 (no limit) becomes the ceiling. */
function cap(value: number, ceiling: number): number {
  return value === 0 || value > ceiling ? ceiling : value;
}

/** The template as a job runs it, and what was lowered (for the job's history). */
export function applyCeilings(template: Template, c: Ceilings): { template: Template; lowered: string[] } {
  const lowered: string[] = [];
  const check = (field: string, from: number, to: number) => {
    if (from !== to) lowered.push(`${field} ${from === 0 ? '0 (no limit)' : from} -> ${to}`);
    return to;
  };
  const limits = { ...template.limits };
  for (const k of Object.keys(c.limits) as (keyof InputLimits)[]) {
    if (typeof limits[k] === 'number')
      limits[k] = check(`limits.${k}`, limits[k], cap(limits[k], c.limits[k]));
  }
  return {
    template: {
      ...template,
      limits,
      timeoutSeconds: check(
        'timeoutSeconds',
        template.timeoutSeconds,
        cap(template.timeoutSeconds, c.timeoutSeconds),
      ),
      cpuSeconds: check('cpuSeconds', template.cpuSeconds, cap(template.cpuSeconds, c.cpuSeconds)),
      maxAttempts: check('maxAttempts', template.maxAttempts, Math.min(template.maxAttempts, c.maxAttempts)),
    },
    lowered,
  };
}
