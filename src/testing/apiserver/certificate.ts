import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/**
 * A throw-away self-signed TLS certificate for 127.0.0.1/localhost, built at start-up so nothing
 * secret ships with the project. kubectl only sends a bearer token over TLS, so the server speaks
 * HTTPS like a real API server, and the kubeconfig carries this certificate as its CA.
 */
export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);

function oid(text: string): Buffer {
  const parts = text.split('.').map(Number);
  const bytes = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = part >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString();
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

export interface CertificateOptions {
  commonName?: string;
  /** DNS names in subjectAltName (default: localhost for a server, none for a client). */
  dnsNames?: string[];
  /** IPv4 addresses in subjectAltName (default: 127.0.0.1 for a server, none for a client). */
  ipv4?: string[];
  /** What the certificate is for: TLS server (the default) or client authentication. */
  usage?: 'server' | 'client';
}

export function createServingCertificate(commonName = 'kube-test-apiserver'): ServingCertificate {
  return createCertificate({ commonName });
}

/** A self-signed certificate that is its own CA, so a peer trusts it by listing it as the CA. */
export function createCertificate(options: CertificateOptions = {}): ServingCertificate {
  const usage = options.usage ?? 'server';
  const commonName = options.commonName ?? 'kube-test-apiserver';
  const dnsNames = options.dnsNames ?? (usage === 'server' ? ['localhost'] : []);
  const ipv4 = options.ipv4 ?? (usage === 'server' ? ['127.0.0.1'] : []);
  const altNames = [
    ...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))),
    ...ipv4.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
  ];
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomBytes(16);
  // DER integers are minimal and signed: a first byte of 0x40..0x7f is never padding and never negative.
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const algorithm = seq(oid('1.2.840.10045.4.3.2'));
  const now = Date.now();
  const extensions = seq(
    extension('2.5.29.19', true, seq(tlv(0x01, Buffer.from([0xff])))),
    extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x02, 0x84]))),
    // Extended key usage: serverAuth or clientAuth; OpenSSL refuses a certificate used for the other purpose.
    extension('2.5.29.37', false, seq(oid(usage === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2'))),
    ...(altNames.length > 0 ? [extension('2.5.29.17', false, seq(...altNames))] : []),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    algorithm,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 365 * 24 * 3600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
