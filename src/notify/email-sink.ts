// Email over SMTP (nodemailer) on COMPLETE and ERROR: a Sink whose targets are the email rules (config
// file's `notifications.email`, or SLUICE_EMAIL_TO). Each delivery is one sendMail to one rule's
// recipients. A server that says "later" (4xx), a refused or dropped connection, a timeout, a refused
// login (the operator fixes the credentials; the outbox keeps trying) are retried; a 5xx to the sender or
// the recipients or the message is permanent (FAILED; `redeliver` once it is fixed).
import os from 'node:os';
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { SluiceError } from '../errors.ts';
import type { JobCloudEvent } from './cloud-event.ts';
import { emailMessage } from './email-message.ts';
import { type EmailRule, envEmailRule, ruleMatches } from './email-rules.ts';
import type { Delivery, DeliveryOutcome, Sink } from './sink.ts';

export interface EmailSinkOptions {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  smtpUrl: string;
  rules: readonly EmailRule[];
  /** The sender of rules without their own `from`. */
  from: string;
  /** Connect, greeting and idle-socket timeout of one attempt. */
  timeoutMs: number;
  /** The API's base URL for the link in each mail (known once the server listens). */
  apiUrl?: () => string | undefined;
}

/** The SMTP URL without its password, for logs and messages. */
export function redactSmtpUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an SMTP URL that is not a valid URL';
  }
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  command?: string;
}

/** What an SMTP failure means for the outbox. */
export function smtpOutcome(err: unknown): DeliveryOutcome {
  const e = err as SmtpError;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  const what = [e?.code, code, e?.command ? `after ${e.command}` : null].filter(Boolean).join(' ');
  const error = `SMTP ${what ? `${what}: ` : ''}${e?.message ?? String(err)}`.slice(0, 1000);
  // A permanent refusal of the envelope (sender, recipients) or the message: sending it again is refused
  // again. A 5xx on login is the operator's to fix, and then the next attempt goes through.
  const permanent =
    code !== undefined && code >= 500 && code < 600 && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE');
  return {
    ok: false,
    retry: !permanent,
    error,
    ...(code !== undefined ? { statusCode: code } : {}),
  };
}

export class EmailSink implements Sink {
  readonly name = 'email';
  private readonly rules: Map<string, EmailRule>;
  private readonly transport: Transporter;

  constructor(
    private readonly o: EmailSinkOptions,
    private readonly log: Logger,
  ) {
    this.rules = new Map(o.rules.map((r) => [r.name, r]));
    this.transport = createTransport({
      url: o.smtpUrl,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      dnsTimeout: o.timeoutMs,
    });
  }

  async targets(event: JobCloudEvent): Promise<string[]> {
    return [...this.rules.values()].filter((r) => ruleMatches(r, event)).map((r) => r.name);
  }

  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    const rule = this.rules.get(d.target);
    if (!rule) {
      return {
        ok: false,
        retry: false,
        error: `no email rule named "${d.target}" in the configuration any more; add it back and redeliver, or leave it`,
      };
    }
    const from = rule.from ?? this.o.from;
    try {
      const m = emailMessage(d.event, rule, { from, apiUrl: this.o.apiUrl?.() });
      const info = await withDeadline(
        this.transport.sendMail({
          from,
          to: rule.to,
          subject: m.subject,
          text: m.text,
          html: m.html,
          messageId: m.messageId,
          headers: m.headers,
        }),
        // The socket timeouts bound each step; this bounds the whole attempt.
        this.o.timeoutMs * 4,
      );
      const rejected = (info as { rejected?: unknown[] }).rejected ?? [];
      if (rejected.length > 0) {
        this.log.warn(
          { rule: rule.name, jobId: d.jobId, rejected: rejected.map(String) },
          'email: some recipients were refused; the others got it',
        );
      }
      const response = String((info as { response?: string }).response ?? '');
      const status = Number(/^\d{3}/.exec(response)?.[0] ?? 250);
      this.log.debug({ rule: rule.name, jobId: d.jobId, messageId: m.messageId }, 'email sent');
      return { ok: true, statusCode: status };
    } catch (err) {
      const outcome = smtpOutcome(err);
      this.log.warn(
        { rule: rule.name, jobId: d.jobId, err: outcome.ok ? undefined : outcome.error },
        'email not sent',
      );
      return outcome;
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The email sink of a server's configuration: the file's rules and the SLUICE_EMAIL_TO shorthand's.
 * None: no sink. Rules without SLUICE_SMTP_URL cannot be sent, so the server refuses to start.
 */
export function emailSinkFrom(
  config: Config,
  fileRules: readonly EmailRule[],
  log: Logger,
  apiUrl?: () => string | undefined,
): EmailSink | null {
  const rules = [
    ...fileRules,
    ...(config.emailTo ? [envEmailRule(config.emailTo, config.emailApplications)] : []),
  ];
  if (rules.length === 0) return null;
  if (!config.smtpUrl) {
    throw new SluiceError(
      'VALIDATION_FAILED',
      `configuration is not valid: email rules (${rules.map((r) => r.name).join(', ')}) need an SMTP server: set SLUICE_SMTP_URL (smtp://user:password@host:587, or smtps://… for TLS from the start)`,
    );
  }
  const from =
    config.emailFrom ?? `Sluice <sluice@${os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost'}>`;
  log.info(
    { smtp: redactSmtpUrl(config.smtpUrl), rules: rules.map((r) => r.name) },
    'email notifications on COMPLETE and ERROR',
  );
  return new EmailSink(
    { smtpUrl: config.smtpUrl, rules, from, timeoutMs: config.smtpTimeoutMs, ...(apiUrl ? { apiUrl } : {}) },
    log,
  );
}
