/**
 * A throw-away certificate authority for the ARM simulator's HTTPS endpoint. The real SDK only
 * sends bearer tokens over TLS (docs/reference/arm-notes.md §4.1), so the simulator must be HTTPS and the client
 * must trust it the standard way: NODE_EXTRA_CA_CERTS (read when Node starts).
 * Keys come from node:crypto (fast); node-forge builds and signs the X.509 certificates.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface TestCa {
  certPem: string;
  keyPem: string;
}

export interface ServerCert {
  certPem: string;
  keyPem: string;
}

function rsaKeys(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey,
    privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    privatePem: privateKey,
  };
}

function serial(): string {
  // Positive serial: clear the top bit.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate): void {
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 24 * 3600_000);
}

/** A new self-signed CA. */
export function createTestCa(): TestCa {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert);
  const subject = [{ name: "commonName", value: `aciimg test CA ${serial().slice(0, 8)}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** A server certificate for 127.0.0.1 (and localhost) signed by `ca`. */
export function issueServerCert(ca: TestCa, ips: string[] = ["127.0.0.1"]): ServerCert {
  const keys = rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert);
  cert.setSubject([{ name: "commonName", value: ips[0] ?? "127.0.0.1" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames: [...ips.map((ip) => ({ type: 7, ip })), { type: 2, value: "localhost" }] },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}
