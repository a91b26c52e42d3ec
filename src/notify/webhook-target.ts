// Which URLs a webhook may call. A webhook URL is a request the server makes on a user's behalf, from
// inside its network: without a guard, a subscription to http://169.254.169.254/ or http://10.0.0.5/admin
// reads or pokes what only the server can reach (SSRF). So only http(s), no credentials in the URL, and no
// address that is private, loopback, link-local, unique-local, CGNAT, multicast, reserved or unspecified
// (nor those wrapped in IPv6: mapped, NAT64, 6to4) unless the server's operator allows private targets
// (SLUICE_WEBHOOK_ALLOW_PRIVATE). The check runs on the URL when a subscription is made or changed, and on
// every address DNS gives at each attempt: the connection goes to the address that was checked (the
// lookup below is the socket's own), so a name that resolves elsewhere the second time (DNS rebinding)
// gets nowhere.
import dns from 'node:dns';
import net from 'node:net';
import { SluiceError } from '../errors.ts';

/** [first address bytes, prefix length]: IPv4 ranges as 4 bytes, IPv6 as 16. */
type Range = readonly [readonly number[], number];

const V4_REFUSED: readonly Range[] = [
  [[0, 0, 0, 0], 8], // "this network", 0.0.0.0 (unspecified)
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // CGNAT (shared address space)
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local (cloud metadata at 169.254.169.254)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2, 0], 24], // documentation
  [[192, 88, 99, 0], 24], // 6to4 relay anycast
  [[192, 168, 0, 0], 16], // private
  [[198, 18, 0, 0], 15], // benchmarking
  [[198, 51, 100, 0], 24], // documentation
  [[203, 0, 113, 0], 24], // documentation
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, and 255.255.255.255 (broadcast)
];

const V6_REFUSED: readonly Range[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 96], // ::/96: unspecified, loopback, IPv4-compatible
  [[0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 48], // 64:ff9b:1::/48, local-use NAT64
  [[0x01, 0, 0, 0, 0, 0, 0, 0], 64], // 100::/64, discard
  [[0x20, 0x01, 0x0d, 0xb8], 32], // 2001:db8::/32, documentation
  [[0xfc], 7], // fc00::/7, unique-local
  [[0xfe, 0x80], 10], // fe80::/10, link-local
  [[0xfe, 0xc0], 10], // fec0::/10, site-local (deprecated)
  [[0xff], 8], // ff00::/8, multicast
];

function inRange(bytes: readonly number[], [prefix, bits]: Range): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (with an embedded dotted quad or not). */
function v6Bytes(ip: string): number[] {
  let s = ip.replace(/%.*$/, ''); // a zone (fe80::1%eth0)
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (quad?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4Bytes(quad[1]);
    s = `${s.slice(0, -quad[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** Why an IP address is not called (a phrase for the error), or null when it is a public address. */
export function refusedAddressReason(ip: string): string | null {
  const family = net.isIP(ip);
  if (family === 4) {
    return V4_REFUSED.some((r) => inRange(v4Bytes(ip), r))
      ? `${ip} is a private, loopback, link-local, shared, multicast or reserved IPv4 address`
      : null;
  }
  if (family !== 6) return `${ip} is not an IP address`;
  const b = v6Bytes(ip);
  // An IPv4 address inside IPv6 is that IPv4 address: ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64),
  // 2002:AABB:CCDD::/48 (6to4).
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  let embedded: number[] | null = null;
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) embedded = b.slice(12, 16);
  else if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12))
    embedded = b.slice(12, 16);
  else if (b[0] === 0x20 && b[1] === 0x02) embedded = b.slice(2, 6);
  if (embedded) {
    const v4 = embedded.join('.');
    return refusedAddressReason(v4)
      ? `${ip} wraps ${v4}, ${refusedAddressReason(v4)?.slice(v4.length + 1)}`
      : null;
  }
  return V6_REFUSED.some((r) => inRange(b, r))
    ? `${ip} is a loopback, unspecified, unique-local, link-local, multicast or reserved IPv6 address`
    : null;
}

const refused = (url: string, why: string) =>
  new SluiceError(
    'WEBHOOK_TARGET_REFUSED',
    `webhook URL ${url}: ${why}; Sluice calls only public addresses (an operator may allow private ones with SLUICE_WEBHOOK_ALLOW_PRIVATE=true)`,
  );

/**
 * Checks a webhook URL as given: http or https, no user:password, a host; an IP literal is checked at once
 * (a name is checked at each attempt, on what DNS gives then). Returns the URL as parsed.
 */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SluiceError('WEBHOOK_INVALID', `webhook URL ${raw} is not a URL; give an absolute http(s) URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new SluiceError('WEBHOOK_INVALID', `webhook URL ${raw}: only http and https URLs are called`);
  }
  if (u.username || u.password) {
    throw new SluiceError(
      'WEBHOOK_INVALID',
      `webhook URL ${u.protocol}//…@${u.host}: a user or password in the URL is not sent; authenticate the sender by the webhook-signature header instead`,
    );
  }
  if (!u.hostname) throw new SluiceError('WEBHOOK_INVALID', `webhook URL ${raw} has no host`);
  if (!allowPrivate) {
    const host = literalAddress(u.hostname);
    const why = host ? refusedAddressReason(host) : null;
    if (why) throw refused(u.origin, why);
  }
  return u;
}

/**
 * checkWebhookUrl, and a name's addresses as DNS gives them now (a subscription to a name of a private
 * address is refused when it is made, not first at its attempts). A name that does not resolve yet is
 * taken: it is checked again at every attempt.
 */
export async function checkWebhookTarget(
  raw: string,
  allowPrivate: boolean,
  resolve: LookupAll = dns.lookup as LookupAll,
): Promise<URL> {
  const u = checkWebhookUrl(raw, allowPrivate);
  if (allowPrivate || literalAddress(u.hostname)) return u;
  const addresses = await new Promise<dns.LookupAddress[]>((r) =>
    resolve(u.hostname, { all: true }, (err, a) => r(err ? [] : a)),
  );
  for (const a of addresses) {
    const why = refusedAddressReason(a.address);
    if (why) throw refused(u.origin, `${u.hostname} resolves to ${why}`);
  }
  return u;
}

/** The IP address a URL's hostname spells ([::1] → ::1), or null for a name. */
function literalAddress(hostname: string): string | null {
  const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return net.isIP(h) ? h : null;
}

type LookupAll = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

/**
 * The `lookup` of a webhook attempt's socket: DNS as usual, then every address checked; a name with any
 * refused address is refused whole (its other addresses would let an attacker pick by timing).
 */
export function guardedLookup(allowPrivate: boolean, resolve: LookupAll = dns.lookup as LookupAll) {
  return (
    hostname: string,
    options: dns.LookupOptions,
    callback: (
      err: NodeJS.ErrnoException | null,
      address: string | dns.LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (!allowPrivate) {
        for (const a of addresses) {
          const why = refusedAddressReason(a.address);
          if (why) {
            const e = refused(hostname, `${hostname} resolves to ${why}`) as SluiceError & { code: string };
            return callback(e as unknown as NodeJS.ErrnoException, '');
          }
        }
      }
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as dns.LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** At an attempt: an IP literal in the URL is checked again (the socket does no lookup for it). */
export function checkAttemptTarget(u: URL, allowPrivate: boolean): void {
  if (allowPrivate) return;
  const host = literalAddress(u.hostname);
  const why = host ? refusedAddressReason(host) : null;
  if (why) throw refused(u.origin, why);
}
