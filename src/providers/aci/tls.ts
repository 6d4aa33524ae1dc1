/**
 * The certificate an ACI backend serves: a fresh ECDSA P-256 key pair and a
 * self-signed X.509 v3 certificate per container group, pinned by its SHA-256 fingerprint.
 *
 * Made with Node's own crypto and the small DER writer below rather than a library: node-forge
 * (already a devDependency) cannot sign with ECDSA, and the certificate is a handful of DER
 * structures (RFC 5280 §4.1). Nobody validates its chain or names — the client accepts exactly
 * this fingerprint and nothing else — so it carries only what TLS stacks require of a leaf.
 */
import { X509Certificate, generateKeyPairSync, randomBytes, sign } from "node:crypto";

export interface BackendCertificate {
  /** The certificate, PEM ("-----BEGIN CERTIFICATE-----"). Public. */
  certPem: string;
  /** The private key, PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). Secret: only ever sent as an ARM secureValue. */
  keyPem: string;
  /** SHA-256 fingerprint as X509Certificate#fingerprint256 prints it ("AB:CD:…"). Public; kept in the state. */
  fingerprint: string;
}

/** The name the certificate carries as subject and issuer. */
const commonName = "aciimg-backend";
/** Validity starts before `now` so a backend clock a little behind ours still accepts it. */
const backdateMs = 60 * 60 * 1000;
/** Long enough for any backend's life: idle backends are reaped after minutes. */
const lifetimeMs = 30 * 24 * 60 * 60 * 1000;

/** Makes a key pair and a self-signed certificate valid from `now` − 1 h to `now` + 30 days. */
export function createBackendCertificate(now: Date): BackendCertificate {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  // A random positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, positive). Setting
  // bit 6 and clearing bit 7 of the first byte keeps it positive and its encoding minimal.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const name = sequence(set(sequence(oid("2.5.4.3"), utf8String(commonName))));
  const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"));
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    ecdsaWithSha256,
    name, // issuer: self-signed
    sequence(time(new Date(now.getTime() - backdateMs)), time(new Date(now.getTime() + lifetimeMs))),
    name, // subject
    publicKey.export({ type: "spki", format: "der" }), // SubjectPublicKeyInfo, already DER
    explicit(
      3,
      sequence(
        extension("2.5.29.19", true, sequence()), // basicConstraints: cA FALSE (the default, so empty)
        extension("2.5.29.15", true, bitString(Buffer.from([0x80]), 7)), // keyUsage: digitalSignature (bit 0)
        extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
      ),
    ),
  );
  // For EC keys crypto.sign returns the DER ECDSA-Sig-Value X.509 wants (dsaEncoding "der").
  const signature = sign("sha256", tbs, privateKey);
  const der = sequence(tbs, ecdsaWithSha256, bitString(signature, 0));
  const lines = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  const certPem = `-----BEGIN CERTIFICATE-----\n${lines}-----END CERTIFICATE-----\n`;
  return {
    certPem,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    fingerprint: fingerprintOf(certPem),
  };
}

/** The SHA-256 fingerprint of a PEM certificate, as X509Certificate#fingerprint256 prints it. */
export function fingerprintOf(certPem: string | Buffer): string {
  return new X509Certificate(certPem).fingerprint256;
}

// ---- A minimal DER writer (X.690): only the types a certificate needs. ----

/** Tag, length (short form below 128, else long form), contents. */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  let length: Buffer;
  if (body.length < 0x80) {
    length = Buffer.from([body.length]);
  } else {
    const octets: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
    length = Buffer.from([0x80 | octets.length, ...octets]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
/** `[n] EXPLICIT`: constructed, context-specific. */
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, "utf8"));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));

/** A non-negative INTEGER from big-endian bytes; a leading 0 keeps a high first bit from reading as negative. */
function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** BIT STRING: first content octet is the count of unused bits in the last octet. */
function bitString(bytes: Buffer, unusedBits: number): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), bytes);
}

/** OBJECT IDENTIFIER: first two arcs as 40·a+b, then each arc base-128, high bit on all but its last octet. */
function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  for (const arc of [40 * arcs[0]! + arcs[1]!, ...arcs.slice(2)]) {
    const septets = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) septets.unshift(0x80 | (n & 0x7f));
    out.push(...septets);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime (YYYYMMDDHHMMSSZ) after. */
function time(date: Date): Buffer {
  const digits = date.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS, UTC
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${digits}Z`));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING }. */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}
