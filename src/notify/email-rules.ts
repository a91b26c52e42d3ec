// Who is mailed about which jobs: email rules, from the configuration file's `notifications.email` list
// or the zero-file shorthand (SLUICE_EMAIL_TO, SLUICE_EMAIL_APPLICATIONS). Seed 002: COMPLETE and ERROR
// are mailed to subscribers, and `userMetadata.application` picks whose jobs. Pure: a rule and an event
// decide a match, nothing else.
import { z } from 'zod';
import type { JobCloudEvent, NotificationType } from './cloud-event.ts';

/** The job endings a rule may ask for, by the names users know (MediaConvert's). */
export const EMAIL_EVENTS = ['COMPLETE', 'ERROR'] as const;
export type EmailEvent = (typeof EMAIL_EVENTS)[number];

const TYPE_OF: Record<EmailEvent, NotificationType> = {
  COMPLETE: 'sluice.job.complete',
  ERROR: 'sluice.job.error',
};

export interface EmailRule {
  name: string;
  to: string[];
  /** The rule's own sender; else SLUICE_EMAIL_FROM, else sluice@<host>. */
  from?: string;
  on: EmailEvent[];
  /** `userMetadata.application` must be one of these (absent: any application, or none). */
  application?: string[];
  /** Each key's value in userMetadata must be one of its values. */
  userMetadata?: Record<string, string[]>;
}

/** The name of the rule SLUICE_EMAIL_TO makes (a file's rule may not take it). */
export const ENV_RULE = 'env';

const RULE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
// An address, or `Display Name <address>`: no control characters (CR/LF would start a header of their
// own), no second address hidden behind a comma.
const ADDRESS = /^[^\s<>@,;:"()[\]\\]+@[^\s<>@,;:"()[\]\\]+\.[^\s<>@,;:"()[\]\\]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const DISPLAY = /^[^<>\u0000-\u001f\u007f,;"]{1,100}$/;

export function isMailbox(s: string): boolean {
  const m = /^(.*?)\s*<([^<>]+)>$/.exec(s.trim());
  if (!m) return ADDRESS.test(s.trim());
  const [, display = '', address = ''] = m;
  return (display === '' || DISPLAY.test(display)) && ADDRESS.test(address);
}

const mailbox = z
  .string()
  .refine(isMailbox, 'an email address (name@example.com, or "Name <name@example.com>"), one per entry');
const oneOrMore = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (typeof v === 'string' ? [v] : v));

export const EmailRuleSpec = z.strictObject({
  name: z
    .string()
    .regex(RULE_NAME, 'a rule name is 1-64 lowercase letters, digits, ".", "_" and "-"')
    .refine((n) => n !== ENV_RULE, `"${ENV_RULE}" is the name of the rule SLUICE_EMAIL_TO makes`),
  to: z
    .union([mailbox, z.array(mailbox).min(1, 'list at least one recipient')])
    .transform((v) => (typeof v === 'string' ? [v] : v)),
  from: mailbox.optional(),
  on: z
    .array(z.enum(EMAIL_EVENTS))
    .min(1, 'name COMPLETE, ERROR or both')
    .default(() => [...EMAIL_EVENTS]),
  application: oneOrMore.optional(),
  userMetadata: z.record(z.string().min(1), oneOrMore).optional(),
});
export type EmailRuleSpec = z.infer<typeof EmailRuleSpec>;

export function emailRuleOf(s: EmailRuleSpec): EmailRule {
  return {
    name: s.name,
    to: s.to,
    ...(s.from ? { from: s.from } : {}),
    on: [...new Set(s.on)],
    ...(s.application ? { application: s.application } : {}),
    ...(s.userMetadata ? { userMetadata: s.userMetadata } : {}),
  };
}

/** The shorthand's rule: every COMPLETE and ERROR to SLUICE_EMAIL_TO, of SLUICE_EMAIL_APPLICATIONS if set. */
export function envEmailRule(to: string[], applications?: string[]): EmailRule {
  return {
    name: ENV_RULE,
    to,
    on: [...EMAIL_EVENTS],
    ...(applications ? { application: applications } : {}),
  };
}

/** True when the rule wants this event: its type, then every userMetadata filter. */
export function ruleMatches(rule: EmailRule, event: JobCloudEvent): boolean {
  if (!rule.on.some((e) => TYPE_OF[e] === event.type)) return false;
  const meta = event.data.job?.userMetadata ?? {};
  const has = (key: string, values: string[]) => Object.hasOwn(meta, key) && values.includes(meta[key] ?? '');
  if (rule.application && !has('application', rule.application)) return false;
  for (const [key, values] of Object.entries(rule.userMetadata ?? {})) if (!has(key, values)) return false;
  return true;
}
