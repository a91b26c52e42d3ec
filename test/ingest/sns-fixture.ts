// A stand-in for SNS's certificate host, made by the test: openssl (on the machine) makes a signing key
// with its self-signed certificate, and a server key and certificate for 127.0.0.1; a real HTTPS server
// on loopback serves the signing certificate and counts subscription confirmations. Messages are signed
// exactly as SNS signs them (its documented string to sign), so the verifier under test is the real one.
import { execFile } from 'node:child_process';
import { createSign } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { type SnsMessage, snsStringToSign } from '../../src/ingest/notifications/sns.ts';
import { tempDir } from '../helpers.ts';

const run = promisify(execFile);

async function selfSigned(dir: string, name: string, cn: string, san?: string) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    ...(san ? ['-addext', `subjectAltName=${san}`] : []),
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { key: await fs.readFile(key, 'utf8'), cert: await fs.readFile(cert, 'utf8') };
}

export interface SnsFixture {
  /** The HTTPS server's certificate: the verifier trusts it (its `ca`). */
  ca: string;
  /** https://127.0.0.1:<port> */
  origin: string;
  certUrl: string;
  confirmations: string[];
  sign(
    m: Omit<SnsMessage, 'Signature' | 'SignatureVersion' | 'SigningCertURL'>,
    version?: '1' | '2',
  ): SnsMessage;
}

export async function snsFixture(t: Parameters<typeof tempDir>[0]): Promise<SnsFixture> {
  const dir = await tempDir(t, 'sluice-sns-');
  const signing = await selfSigned(dir, 'signing', 'sns.amazonaws.com');
  const server = await selfSigned(dir, 'server', '127.0.0.1', 'IP:127.0.0.1');
  const confirmations: string[] = [];
  const srv = https.createServer({ key: server.key, cert: server.cert }, (req, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(signing.cert);
    } else if (req.url?.startsWith('/confirm?')) {
      confirmations.push(req.url);
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<ConfirmSubscriptionResponse/>');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(async () => {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });
  const origin = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const certUrl = `${origin}/SimpleNotificationService-test.pem`;
  return {
    ca: server.cert,
    origin,
    certUrl,
    confirmations,
    sign(m, version = '2') {
      const full = { ...m, SignatureVersion: version, SigningCertURL: certUrl, Signature: '' } as SnsMessage;
      full.Signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
        .update(snsStringToSign(full))
        .sign(signing.key, 'base64');
      return full;
    },
  };
}

export const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:sluice-uploads';

export function snsNotification(message: unknown, id = 'b3f1a7e2-0000-4000-8000-000000000001') {
  return {
    Type: 'Notification' as const,
    MessageId: id,
    TopicArn: TOPIC,
    Subject: 'Amazon S3 Notification',
    Message: JSON.stringify(message),
    Timestamp: '2024-05-01T12:00:05.000Z',
  };
}

export function snsSubscription(origin: string) {
  return {
    Type: 'SubscriptionConfirmation' as const,
    MessageId: 'c4e2b8f3-0000-4000-8000-000000000002',
    TopicArn: TOPIC,
    Token: '2336412f37fb687f5d51e6e2425f004ae',
    Message: `You have chosen to subscribe to the topic ${TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
    SubscribeURL: `${origin}/confirm?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC)}&Token=2336412f37fb687f5d51e6e2425f004ae`,
    Timestamp: '2024-05-01T12:00:00.000Z',
  };
}
