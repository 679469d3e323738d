/**
 * A self-signed certificate for the local voice server, built with node:crypto only (no openssl
 * binary, no dependency): an EC P-256 key and a minimal X.509 v3 certificate encoded by hand in DER.
 * Clients such as @discordjs/voice only speak wss://, so the server needs one; tests trust it by
 * passing the returned PEM as `ca`.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { checkArrayOf } from '../util/args.js';

export interface TlsCertificate {
  /** PEM certificate; also what clients pass as their trusted CA. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

// ---- minimal DER encoder ----

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
}
const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.of(unusedBits), b);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
const derTrue = Buffer.of(0x01, 0x01, 0xff);

function unsignedInteger(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  return tlv(0x02, (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), b]) : b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(date: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s =
    p(date.getUTCFullYear() % 100) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds()) +
    'Z';
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

function extension(id: string, value: Buffer, critical = false): Buffer {
  return critical ? seq(oid(id), derTrue, octets(value)) : seq(oid(id), octets(value));
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function ipv4Bytes(address: string): Buffer | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? Buffer.from(bytes) : null;
}

/**
 * Generates a self-signed certificate valid for `localhost` and 127.0.0.1 (plus `hosts`), from one
 * day ago to one year ahead. It is marked as a CA so it can serve as its own trust anchor.
 */
export function generateSelfSignedCertificate(hosts: readonly string[] = []): TlsCertificate {
  checkArrayOf(hosts, 'hosts', 'string');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  const names = new Set(['localhost', '127.0.0.1', ...hosts]);
  const altNames: Buffer[] = [];
  for (const name of names) {
    const ip = ipv4Bytes(name);
    // GeneralName: [2] dNSName IA5String, [7] iPAddress OCTET STRING (both implicit).
    altNames.push(ip ? tlv(0x87, ip) : tlv(0x82, Buffer.from(name, 'ascii')));
  }

  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8('voxcord local voice server'))));
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;

  const tbs = seq(
    explicit(0, unsignedInteger(Buffer.of(2))), // v3
    unsignedInteger(serial),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 365 * 86_400_000))),
    name,
    spki,
    explicit(
      3,
      seq(
        extension('2.5.29.19', seq(derTrue), true), // basicConstraints cA
        extension('2.5.29.15', bitString(Buffer.of(0x84), 2), true), // digitalSignature, keyCertSign
        extension('2.5.29.37', seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage serverAuth
        extension('2.5.29.14', octets(createHash('sha1').update(spki).digest())), // subjectKeyIdentifier
        extension('2.5.29.17', seq(...altNames)), // subjectAltName
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const certificate = seq(tbs, ecdsaWithSha256, bitString(signature));

  return {
    cert: toPem('CERTIFICATE', certificate),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
