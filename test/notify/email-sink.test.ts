// The email sink against a real SMTP server on loopback (smtp-server): which rules want which events,
// the mail a COMPLETE and an ERROR job become (as parsed by mailparser on arrival), the Message-ID a
// retried delivery keeps, nothing user-controlled in the headers, and what each SMTP failure means for
// the outbox (retry, or FAILED for good). Deliveries are built as the outbox builds them: toCloudEvent
// of a logged event carrying its job's summary.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { JobSummary } from '../../src/jobs/job-summary.ts';
import { type JobCloudEvent, type LoggedEvent, toCloudEvent } from '../../src/notify/cloud-event.ts';
import { emailMessage, messageIdOf } from '../../src/notify/email-message.ts';
import { type EmailRule, EmailRuleSpec, emailRuleOf } from '../../src/notify/email-rules.ts';
import { EmailSink, smtpOutcome } from '../../src/notify/email-sink.ts';
import { errorHint } from '../../src/notify/error-hints.ts';
import type { Delivery } from '../../src/notify/sink.ts';
import { silentLog, waitFor } from '../helpers.ts';
import { freePort } from '../real-server.ts';
import { startSmtp } from '../smtp-server.ts';

function summary(over: Partial<JobSummary> = {}): JobSummary {
  return {
    id: 'job_0123456789abcdef',
    status: 'COMPLETE',
    phase: null,
    progress: { percent: 100, fps: null, speed: null, etaSeconds: 0 },
    attempts: 1,
    maxAttempts: 3,
    pipeline: 'lessons',
    template: 'tiny',
    input: { bucket: 'source', key: 'courses/lesson 1.mp4', size: 123_456 },
    inputId: 'in_0123456789abcdef',
    destination: { bucket: 'destination', prefix: 'courses/lesson 1.mp4/tiny' },
    outputs: [
      { type: 'thumbnail', bucket: 'destination', key: 'courses/lesson 1.mp4/tiny/thumb.jpg', size: 2048 },
      { type: 'mp4', bucket: 'destination', key: 'courses/lesson 1.mp4/tiny/lesson 1.mp4', size: 90_000 },
      { type: 'dash', bucket: 'destination', key: 'courses/lesson 1.mp4/tiny/manifest.mpd', size: 1500 },
      { type: 'hls', bucket: 'destination', key: 'courses/lesson 1.mp4/tiny/master.m3u8', size: 300 },
    ],
    error: null,
    userMetadata: { application: 'lms', course: 'c1' },
    pool: 'local',
    createdAt: '2026-12-01T10:00:00.000Z',
    startedAt: '2026-12-01T10:00:02.000Z',
    finishedAt: '2026-12-01T10:00:07.500Z',
    ...over,
  };
}

let seq = 100;
function event(type: string, job: JobSummary): JobCloudEvent {
  const logged: LoggedEvent = {
    id: seq++,
    jobId: job.id,
    type,
    fromStatus: 'PROGRESSING',
    toStatus: job.status,
    at: job.finishedAt ?? '2026-12-01T10:00:01.000Z',
    data: {},
    job,
  };
  const e = toCloudEvent(logged);
  assert.ok(e, type);
  return e;
}

function delivery(target: string, e: JobCloudEvent): Delivery {
  const now = new Date().toISOString();
  return {
    id: `dlv_${e.id}_${target}`,
    sink: 'email',
    target,
    eventId: e.data.event.seq,
    jobId: e.data.job?.id ?? '',
    event: e,
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
    lastStatusCode: null,
    lastError: null,
  };
}

const rule = (spec: unknown): EmailRule => emailRuleOf(EmailRuleSpec.parse(spec));

const failed = summary({
  id: 'job_fedcba9876543210',
  status: 'ERROR',
  input: { bucket: 'source', key: 'courses/broken.mp4', size: 12 },
  outputs: [],
  error: { code: 'INPUT_UNREADABLE', message: 'ffprobe could not read the input: Invalid data found' },
});

test('targets: each rule by event type, application and userMetadata key=value; other events none', async () => {
  const sink = new EmailSink(
    {
      smtpUrl: 'smtp://127.0.0.1:1',
      from: 'sluice@example.com',
      timeoutMs: 1000,
      rules: [
        rule({ name: 'lms', to: 'ops@example.com', application: 'lms' }),
        rule({ name: 'lms-errors', to: ['oncall@example.com'], on: ['ERROR'], application: ['lms', 'crm'] }),
        rule({ name: 'crm', to: 'crm@example.com', application: 'crm' }),
        rule({ name: 'course-c1', to: 'teacher@example.com', userMetadata: { course: 'c1' } }),
        rule({ name: 'everything', to: 'archive@example.com' }),
      ],
    },
    silentLog,
  );
  t_after(sink);
  assert.deepEqual(await sink.targets(event('job:complete', summary())), ['lms', 'course-c1', 'everything']);
  assert.deepEqual(await sink.targets(event('job:error', failed)), [
    'lms',
    'lms-errors',
    'course-c1',
    'everything',
  ]);
  const otherApp = summary({ userMetadata: { application: 'crm', course: 'c2' } });
  assert.deepEqual(await sink.targets(event('job:complete', otherApp)), ['crm', 'everything']);
  const none = summary({ userMetadata: {} });
  assert.deepEqual(await sink.targets(event('job:complete', none)), ['everything']);
  for (const type of [
    'job:created',
    'job:claimed',
    'job:status-update',
    'job:canceled',
    'job:input-information',
  ])
    assert.deepEqual(await sink.targets(event(type, summary())), [], type);
});

const sinks: EmailSink[] = [];
function t_after(s: EmailSink) {
  sinks.push(s);
}
test.after(async () => {
  for (const s of sinks) await s.close();
});

test('deliver: a COMPLETE and an ERROR job arrive as plain-text summaries; a retry keeps the Message-ID', async (t) => {
  const smtp = await startSmtp(t);
  const lms = rule({
    name: 'lms',
    to: ['ops@example.com', 'Teacher <teacher@example.com>'],
    application: 'lms',
  });
  const sink = new EmailSink(
    {
      smtpUrl: smtp.url,
      from: 'Sluice <sluice@media.example.com>',
      timeoutMs: 5000,
      rules: [lms],
      apiUrl: () => 'http://127.0.0.1:8787',
    },
    silentLog,
  );
  t_after(sink);

  const complete = event('job:complete', summary());
  const d = delivery('lms', complete);
  assert.deepEqual(await sink.deliver(d), { ok: true, statusCode: 250 });
  await waitFor('the COMPLETE mail', async () => smtp.received.length === 1, 10_000);
  const [mail] = smtp.received;
  assert.ok(mail);
  assert.deepEqual(mail.envelope.to.sort(), ['ops@example.com', 'teacher@example.com']);
  assert.equal(mail.envelope.from, 'sluice@media.example.com');
  assert.equal(mail.parsed.subject, '[Sluice] COMPLETE lesson 1.mp4 (job_0123456789abcdef)');
  const id = messageIdOf(complete, 'lms', 'sluice@media.example.com');
  assert.equal(mail.parsed.messageId, id);
  assert.match(id, /^<evt_0123456789abcdef_\d+\.[0-9a-f]{12}@media\.example\.com>$/);
  assert.equal(mail.parsed.headers.get('auto-submitted'), 'auto-generated');
  assert.equal(mail.parsed.headers.get('x-sluice-event-id'), complete.id);
  const text = mail.parsed.text ?? '';
  assert.match(text, /Job job_0123456789abcdef is COMPLETE/);
  assert.match(text, /Input: +source\/courses\/lesson 1\.mp4 \(121 KiB\)/);
  assert.match(text, /Template: +tiny/);
  assert.match(text, /Pipeline: +lessons/);
  assert.match(text, /Attempts: +1 of 3/);
  assert.match(text, /Duration: +5\.5 s/);
  assert.match(text, /Wall time: +7\.5 s since it was submitted at 2026-12-01T10:00:00\.000Z/);
  assert.match(text, /application: lms/);
  assert.match(text, /course: c1/);
  assert.match(text, /http:\/\/127\.0\.0\.1:8787\/v1\/jobs\/job_0123456789abcdef/);
  assert.doesNotMatch(text, /Error:/);
  // The entry points first: HLS, then DASH, then the MP4 and the thumbnail; each with its size.
  const order = ['master.m3u8', 'manifest.mpd', 'lesson 1.mp4  ', 'thumb.jpg'].map((k) => text.indexOf(k));
  assert.ok(
    order.every((i) => i > 0),
    `every output listed: ${order}`,
  );
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    order,
    'HLS, DASH, MP4, thumbnail in that order',
  );
  assert.match(text, /hls +destination\/courses\/lesson 1\.mp4\/tiny\/master\.m3u8 +300 B/);
  assert.match(mail.parsed.html || '', /<pre[^>]*>Job job_0123456789abcdef is COMPLETE/);

  // The outbox retrying the same delivery (its ack was lost, say): the same Message-ID, for dedup.
  assert.equal((await sink.deliver(d)).ok, true);
  await waitFor('the retried mail', async () => smtp.received.length === 2, 10_000);
  assert.equal(smtp.received[1]?.parsed.messageId, id);

  const error = event('job:error', failed);
  assert.equal((await sink.deliver(delivery('lms', error))).ok, true);
  await waitFor('the ERROR mail', async () => smtp.received.length === 3, 10_000);
  const errMail = smtp.received[2];
  assert.ok(errMail);
  assert.equal(errMail.parsed.subject, '[Sluice] ERROR broken.mp4 (job_fedcba9876543210)');
  assert.notEqual(errMail.parsed.messageId, id);
  const errText = errMail.parsed.text ?? '';
  assert.match(errText, /Error: +INPUT_UNREADABLE/);
  assert.match(errText, /Message: +ffprobe could not read the input: Invalid data found/);
  assert.match(errText, /What to do: the input is not a media file ffmpeg can read/);
  assert.doesNotMatch(errText, /Outputs/);
});

test('nothing user-controlled reaches the headers raw: CR/LF in a key cannot add a header; HTML is escaped', async (t) => {
  const smtp = await startSmtp(t);
  const sink = new EmailSink(
    {
      smtpUrl: smtp.url,
      from: 'sluice@example.com',
      timeoutMs: 5000,
      rules: [rule({ name: 'all', to: 'a@example.com' })],
    },
    silentLog,
  );
  t_after(sink);
  const nasty = summary({
    input: { bucket: 'source', key: 'x/evil\r\nBcc: victim@example.com\r\n<b>.mp4' },
    userMetadata: { application: '<script>alert(1)</script>' },
  });
  const e = event('job:complete', nasty);
  // Sluice's own part (nodemailer encodes headers too): the subject it hands over is one flat line.
  const m = emailMessage(e, rule({ name: 'all', to: 'a@example.com' }), { from: 'sluice@example.com' });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked for
  assert.doesNotMatch(m.subject, /[\u0000-\u001f]/);
  for (const v of Object.values(m.headers)) assert.doesNotMatch(v, /[\r\n]/);
  assert.equal((await sink.deliver(delivery('all', e))).ok, true);
  await waitFor('the mail', async () => smtp.received.length === 1, 10_000);
  const mail = smtp.received[0];
  assert.ok(mail);
  assert.deepEqual(mail.envelope.to, ['a@example.com'], 'no Bcc recipient was added');
  assert.equal(mail.parsed.headers.get('bcc'), undefined);
  assert.equal(
    mail.parsed.subject,
    '[Sluice] COMPLETE evil Bcc: victim@example.com <b>.mp4 (job_0123456789abcdef)',
  );
  assert.doesNotMatch(mail.parsed.html || '', /<script>/);
  assert.match(mail.parsed.html || '', /&#60;script&#62;/);
});

test('SMTP failures: 5xx for a recipient is permanent; 4xx, a refused login, a refused or silent server are retried', async (t) => {
  const smtp = await startSmtp(t);
  const rules = [
    rule({ name: 'refused', to: 'refused@example.com' }),
    rule({ name: 'later', to: 'later@example.com' }),
    rule({ name: 'ok', to: 'ok@example.com' }),
  ];
  const mk = (smtpUrl: string, timeoutMs = 5000) => {
    const s = new EmailSink({ smtpUrl, from: 'sluice@example.com', timeoutMs, rules }, silentLog);
    t_after(s);
    return s;
  };
  const sink = mk(smtp.url);
  const e = event('job:complete', summary());

  const refused = await sink.deliver(delivery('refused', e));
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok);
  assert.equal(refused.retry, false, refused.error);
  assert.equal(refused.statusCode, 550);
  assert.match(refused.error, /550/);

  const later = await sink.deliver(delivery('later', e));
  assert.ok(!later.ok);
  assert.equal(later.retry, true, later.error);
  assert.equal(later.statusCode, 451);

  const wrongPassword = mk(smtp.url.replace(encodeURIComponent('secret pass'), 'wrong'));
  const auth = await wrongPassword.deliver(delivery('ok', e));
  assert.ok(!auth.ok);
  assert.equal(auth.retry, true, 'the operator fixes the credentials; the outbox keeps trying');
  assert.equal(auth.statusCode, 535);

  const nobody = mk(`smtp://127.0.0.1:${await freePort()}`);
  const conn = await nobody.deliver(delivery('ok', e));
  assert.ok(!conn.ok);
  assert.equal(conn.retry, true, conn.error);

  // A server that accepts the connection and never says hello: bounded by the timeout.
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => silent.close(() => r(undefined))));
  const mute = mk(`smtp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, 300);
  const quiet = await mute.deliver(delivery('ok', e));
  assert.ok(!quiet.ok);
  assert.equal(quiet.retry, true, quiet.error);

  // A rule no longer in the configuration: nothing to send it with, for good.
  const gone = await sink.deliver(delivery('removed-rule', e));
  assert.ok(!gone.ok);
  assert.equal(gone.retry, false);
  assert.match(gone.error, /removed-rule/);

  assert.equal(smtp.received.length, 0, 'nothing was accepted');
  // The sending one still works on the same server.
  assert.equal((await sink.deliver(delivery('ok', e))).ok, true);
});

test('smtpOutcome: 5xx on the envelope or message is permanent; anything else retried', () => {
  const err = (code: string, responseCode?: number) => Object.assign(new Error('x'), { code, responseCode });
  assert.equal((smtpOutcome(err('EENVELOPE', 550)) as { retry: boolean }).retry, false);
  assert.equal((smtpOutcome(err('EMESSAGE', 552)) as { retry: boolean }).retry, false);
  assert.equal((smtpOutcome(err('EENVELOPE', 452)) as { retry: boolean }).retry, true);
  assert.equal((smtpOutcome(err('EAUTH', 535)) as { retry: boolean }).retry, true);
  assert.equal((smtpOutcome(err('ECONNECTION')) as { retry: boolean }).retry, true);
  assert.equal((smtpOutcome(err('ETIMEDOUT')) as { retry: boolean }).retry, true);
});

test('what to do: a hint of its own for a known code, the generic one naming the job otherwise', () => {
  assert.match(errorHint('JOB_TIMEOUT', 'job_1'), /timeoutSeconds/);
  assert.match(errorHint('INTERNAL', 'job_1'), /docs\/errors\.md.*`sluice job job_1`.*`sluice retry job_1`/);
  assert.equal(errorHint('NOT_A_CODE_YET', 'job_1'), errorHint('INTERNAL', 'job_1'));
});
