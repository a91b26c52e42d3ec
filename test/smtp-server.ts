// A real SMTP server on loopback (the `smtp-server` package) for the email tests: it takes mail with
// AUTH PLAIN/LOGIN as tester/secret (over plain TCP: STARTTLS is off, as its built-in certificate is not
// one nodemailer trusts), parses what arrives with mailparser, and refuses recipients on request:
// `refused@…` gets 550 (permanent), `later@…` gets 451 (try again later).
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const SMTP_USER = 'tester';
export const SMTP_PASSWORD = 'secret pass';

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  parsed: ParsedMail;
  raw: string;
}

export interface LoopbackSmtp {
  url: string;
  port: number;
  received: ReceivedMail[];
  close(): Promise<void>;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

export async function startSmtp(t: { after: (fn: () => Promise<void>) => void }): Promise<LoopbackSmtp> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username });
      else cb(smtpError('authentication failed', 535));
    },
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('refused@')) return cb(smtpError('no such mailbox', 550));
      if (address.address.startsWith('later@')) return cb(smtpError('mailbox busy, try later', 451));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              parsed,
              raw: raw.toString('utf8'),
            });
            cb();
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((r) => server.close(() => r()));
  };
  t.after(close);
  return {
    url: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${port}`,
    port,
    received,
    close,
  };
}
