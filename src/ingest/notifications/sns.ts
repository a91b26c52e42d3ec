// Amazon SNS HTTP(S) deliveries: the x-amz-sns-message-type header names the message, the body is its
// JSON envelope. Every message is verified before use: its signature (SignatureVersion 1: SHA1withRSA,
// 2: SHA256withRSA) over the canonical string of its type's fields, with the certificate fetched from
// SigningCertURL only when that is https on an SNS host (sns.<region>.amazonaws.com). A subscription is
// confirmed by GET of its SubscribeURL, held to the same host rule; a Notification's Message is the S3
// event JSON.
import { createVerify, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { SluiceError } from '../../errors.ts';
import { isRecord, malformed } from './object-reference.ts';

export const SNS_TYPES = ['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'] as const;
export type SnsType = (typeof SNS_TYPES)[number];

export interface SnsMessage {
  Type: SnsType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
}

/** The fields signed, in order, per message type (AWS: "Verifying the signatures of Amazon SNS messages"). */
const SIGNED_FIELDS: Record<SnsType, (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: [
    'Message',
    'MessageId',
    'SubscribeURL',
    'Timestamp',
    'Token',
    'TopicArn',
    'Type',
  ],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** AWS's SNS endpoints (the China regions end in .amazonaws.com.cn). */
export const SNS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

function invalid(message: string): SluiceError {
  return new SluiceError('INGEST_SIGNATURE_INVALID', message);
}

export function parseSnsEnvelope(headerType: string, body: unknown): SnsMessage {
  if (!isRecord(body)) throw malformed('an SNS message is a JSON object');
  const type = body.Type;
  if (!SNS_TYPES.includes(type as SnsType)) {
    throw malformed(`SNS message Type ${JSON.stringify(type)} is not one of ${SNS_TYPES.join(', ')}`);
  }
  if (type !== headerType) {
    throw malformed(`x-amz-sns-message-type says ${headerType} but the message's Type is ${String(type)}`);
  }
  const fields = [
    'MessageId',
    'TopicArn',
    'Message',
    'Timestamp',
    'SignatureVersion',
    'Signature',
    'SigningCertURL',
  ];
  if (type !== 'Notification') fields.push('Token', 'SubscribeURL');
  for (const f of fields) {
    if (typeof body[f] !== 'string' || body[f] === '') throw malformed(`SNS message field ${f} is missing`);
  }
  if (body.Subject !== undefined && typeof body.Subject !== 'string')
    throw malformed('SNS Subject is not a string');
  return body as unknown as SnsMessage;
}

/** The string SNS signed: each present field's name and value, each on its own line. */
export function snsStringToSign(m: SnsMessage): string {
  let s = '';
  for (const f of SIGNED_FIELDS[m.Type]) {
    const v = m[f];
    if (v === undefined) continue;
    s += `${f}\n${v}\n`;
  }
  return s;
}

export interface SnsVerifierOptions {
  /** Hosts SigningCertURL and SubscribeURL may name (https only); default SNS's own. */
  certHost?: RegExp;
  /** Extra CA certificates trusted when fetching (a test's own HTTPS server). */
  ca?: string | Buffer;
  /** Certificates cached at most (by URL). */
  maxCachedCerts?: number;
}

export class SnsVerifier {
  private readonly certs = new Map<string, Promise<X509Certificate>>();
  private readonly certHost: RegExp;

  constructor(private readonly o: SnsVerifierOptions = {}) {
    this.certHost = o.certHost ?? SNS_CERT_HOST;
  }

  /** A URL SNS gave that Sluice may fetch: https on an allowed host; throws otherwise. */
  trustedUrl(raw: string, what: string): URL {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw invalid(`${what} ${JSON.stringify(raw)} is not a URL`);
    }
    if (u.protocol !== 'https:' || !this.certHost.test(u.hostname) || u.username || u.password) {
      throw invalid(
        `${what} ${u.protocol}//${u.host} is not an SNS endpoint (https://sns.<region>.amazonaws.com)`,
      );
    }
    return u;
  }

  async verify(m: SnsMessage): Promise<void> {
    const algorithm =
      m.SignatureVersion === '1' ? 'RSA-SHA1' : m.SignatureVersion === '2' ? 'RSA-SHA256' : null;
    if (!algorithm) throw invalid(`SNS SignatureVersion ${m.SignatureVersion} is not 1 or 2`);
    const url = this.trustedUrl(m.SigningCertURL, 'SigningCertURL');
    if (!url.pathname.endsWith('.pem')) throw invalid('SigningCertURL does not name a .pem certificate');
    const cert = await this.cert(url.toString());
    const ok = createVerify(algorithm)
      .update(snsStringToSign(m), 'utf8')
      .verify(cert.publicKey, Buffer.from(m.Signature, 'base64'));
    if (!ok)
      throw invalid(
        `SNS message ${m.MessageId}: the signature does not match; the message was altered or not sent by SNS`,
      );
  }

  /** Confirms a subscription: GET of its SubscribeURL (after verify()). */
  async confirm(m: SnsMessage): Promise<void> {
    const url = this.trustedUrl(m.SubscribeURL ?? '', 'SubscribeURL');
    await this.get(url.toString());
  }

  private cert(url: string): Promise<X509Certificate> {
    let p = this.certs.get(url);
    if (!p) {
      if (this.certs.size >= (this.o.maxCachedCerts ?? 32)) this.certs.clear();
      p = this.get(url).then((pem) => {
        const cert = new X509Certificate(pem);
        const now = Date.now();
        if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) {
          throw invalid(`the SNS signing certificate at ${url} is not valid now`);
        }
        return cert;
      });
      p.catch(() => this.certs.delete(url));
      this.certs.set(url, p);
    }
    return p;
  }

  private get(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ...(this.o.ca ? { ca: this.o.ca } : {}), timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024) req.destroy(new Error('response larger than 64 KiB'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200)
            reject(new SluiceError('SNS_UNREACHABLE', `GET ${url}: HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) =>
        // A fetch that failed may work next time: retryable, so SNS redelivers.
        reject(new SluiceError('SNS_UNREACHABLE', `GET ${url} failed: ${err.message}`)),
      );
    });
  }
}
