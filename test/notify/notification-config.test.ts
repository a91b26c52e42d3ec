// Where email rules and the JetStream sink are configured: the configuration file's `notifications.email`
// list (checked like the pipelines: every error names the file and the field), the zero-file shorthand
// (SLUICE_SMTP_URL, SLUICE_EMAIL_TO, SLUICE_EMAIL_APPLICATIONS), and the settings refused alone
// rather than ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { checkConfigFile } from '../../src/config/pipeline-file.ts';
import { SluiceError } from '../../src/errors.ts';
import { emailSinkFrom } from '../../src/notify/email-sink.ts';
import { jetStreamSinkFrom } from '../../src/notify/jetstream-sink.ts';
import { TemplateRegistry } from '../../src/templates/template-registry.ts';
import { silentLog } from '../helpers.ts';

const templates = new TemplateRegistry(null);
const pipelines = [
  {
    name: 'lessons',
    source: { bucket: 'source' },
    template: 'abr-default',
    destination: { bucket: 'destination' },
  },
];

test('notifications.email in the configuration file: rules with defaults filled in', async () => {
  const c = await checkConfigFile(
    {
      pipelines,
      notifications: {
        email: [
          { name: 'lms', to: 'ops@example.com', application: 'lms' },
          {
            name: 'teachers',
            to: ['Teacher <t@example.com>', 'b@example.com'],
            from: 'Sluice <media@example.com>',
            on: ['ERROR'],
            userMetadata: { course: ['c1', 'c2'], term: 'autumn' },
          },
        ],
      },
    },
    'sluice.yaml',
    templates,
  );
  assert.equal(c.pipelines.length, 1);
  assert.deepEqual(c.emailRules, [
    { name: 'lms', to: ['ops@example.com'], on: ['COMPLETE', 'ERROR'], application: ['lms'] },
    {
      name: 'teachers',
      to: ['Teacher <t@example.com>', 'b@example.com'],
      from: 'Sluice <media@example.com>',
      on: ['ERROR'],
      userMetadata: { course: ['c1', 'c2'], term: ['autumn'] },
    },
  ]);
  const none = await checkConfigFile({ pipelines }, 'sluice.yaml', templates);
  assert.deepEqual(none.emailRules, []);
});

test('every mistake in notifications.email is listed with the file and the field', async () => {
  const err = await checkConfigFile(
    {
      pipelines,
      notifications: {
        email: [
          { name: 'a', to: 'not an address' },
          { name: 'a', to: 'x@example.com', on: ['DONE'] },
          { name: 'env', to: 'x@example.com\r\nBcc: y@example.com' },
          { name: 'b', to: [], frm: 'typo@example.com' },
        ],
        sms: [],
      },
    },
    'sluice.yaml',
    templates,
  ).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SluiceError);
  assert.equal(err.code, 'CONFIG_INVALID');
  const errors = (err.details?.errors ?? []) as string[];
  const has = (re: RegExp) =>
    assert.ok(
      errors.some((e) => re.test(e)),
      `${re} in:\n${errors.join('\n')}`,
    );
  has(/^notifications\.email\[0\]\.to: an email address/);
  has(/^notifications\.email\[1\]\.on\[0\]: /);
  has(/^notifications\.email\[2\]\.name: "env" is the name of the rule SLUICE_EMAIL_TO makes/);
  has(/^notifications\.email\[2\]\.to: an email address/);
  has(/^notifications\.email\[3\]\.to: list at least one recipient/);
  has(/^notifications\.email\[3\]: .*frm/);
  has(/^notifications: .*sms/);
  assert.match(err.message, /^sluice\.yaml is not a valid configuration:/);

  const dup = await checkConfigFile(
    {
      pipelines,
      notifications: {
        email: [
          { name: 'a', to: 'x@example.com' },
          { name: 'a', to: 'y@example.com' },
        ],
      },
    },
    'sluice.yaml',
    templates,
  ).catch((e: SluiceError) => e);
  assert.ok(dup instanceof SluiceError);
  assert.deepEqual(dup.details?.errors, [
    'notifications.email[1].name: "a" is already the name of notifications.email[0]; names are unique',
  ]);
});

test('the zero-file shorthand: SLUICE_SMTP_URL + SLUICE_EMAIL_TO (+ SLUICE_EMAIL_APPLICATIONS) make the "env" rule', async () => {
  const c = loadConfig(
    {},
    {
      SLUICE_SMTP_URL: 'smtp://u:p@127.0.0.1:2525',
      SLUICE_EMAIL_TO: 'ops@example.com, Teacher <t@example.com>',
      SLUICE_EMAIL_APPLICATIONS: 'lms,crm',
      SLUICE_EMAIL_FROM: 'Sluice <media@example.com>',
    },
  );
  assert.deepEqual(c.emailTo, ['ops@example.com', 'Teacher <t@example.com>']);
  assert.deepEqual(c.emailApplications, ['lms', 'crm']);
  const sink = emailSinkFrom(c, [], silentLog);
  assert.ok(sink);
  t_close(sink);
  const complete = (application: string) =>
    ({
      type: 'sluice.job.complete',
      data: { job: { userMetadata: { application } } },
    }) as never;
  assert.deepEqual(await sink.targets(complete('lms')), ['env']);
  assert.deepEqual(await sink.targets(complete('other')), []);
  assert.equal(emailSinkFrom(loadConfig({}, {}), [], silentLog), null, 'nothing configured: no sink');
});

const open: { close(): Promise<void> }[] = [];
function t_close(s: { close(): Promise<void> }) {
  open.push(s);
}
test.after(async () => {
  for (const s of open) await s.close();
});

test('settings that need another are refused alone, not ignored', () => {
  const refused = (env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadConfig({}, env),
      (e: unknown) => e instanceof SluiceError && e.code === 'VALIDATION_FAILED' && re.test(e.message),
      JSON.stringify(env),
    );
  refused({ SLUICE_EMAIL_TO: 'a@example.com' }, /SLUICE_SMTP_URL/);
  refused({ SLUICE_SMTP_URL: 'smtp://h:25', SLUICE_EMAIL_APPLICATIONS: 'lms' }, /SLUICE_EMAIL_TO/);
  refused({ SLUICE_SMTP_URL: 'http://h:25' }, /SLUICE_SMTP_URL.*smtp:\/\//);
  refused({ SLUICE_SMTP_URL: 'smtp://h', SLUICE_EMAIL_TO: 'a@example.com,b' }, /SLUICE_EMAIL_TO/);
  refused({ SLUICE_EVENTS_NATS_STREAM: 'EVENTS' }, /SLUICE_EVENTS_NATS_STREAM.*SLUICE_EVENTS_NATS_URL/);
  refused(
    { SLUICE_EVENTS_NATS_URL: 'nats://h:4222', SLUICE_EVENTS_NATS_SUBJECT_PREFIX: 'a.>' },
    /SUBJECT_PREFIX/,
  );
  // File rules without an SMTP server cannot be sent: the server refuses to start.
  assert.throws(
    () =>
      emailSinkFrom(
        loadConfig({}, {}),
        [{ name: 'lms', to: ['a@example.com'], on: ['COMPLETE'] }],
        silentLog,
      ),
    /lms.*SLUICE_SMTP_URL/,
  );
});

test('the JetStream sink: none without SLUICE_EVENTS_NATS_URL; its defaults otherwise', () => {
  assert.equal(jetStreamSinkFrom(loadConfig({}, {}), silentLog), null);
  const c = loadConfig({}, { SLUICE_EVENTS_NATS_URL: 'nats://127.0.0.1:4222' });
  assert.equal(c.eventsNatsStream, 'SLUICE_EVENTS');
  assert.equal(c.eventsNatsSubjectPrefix, 'sluice.events');
  assert.equal(c.eventsNatsDuplicateWindowSeconds, 3600);
  assert.ok(jetStreamSinkFrom(c, silentLog));
});
