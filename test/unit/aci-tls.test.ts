import { execFile } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer } from "node:tls";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createBackendCertificate, fingerprintOf } from "../../src/providers/aci/tls.js";

const now = new Date("2030-06-15T12:00:00Z");

describe("createBackendCertificate", () => {
  const made = createBackendCertificate(now);
  const cert = new X509Certificate(made.certPem);

  it("makes a self-signed certificate whose signature and key pair check out", () => {
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(made.keyPem))).toBe(true);
    expect(cert.subject).toBe("CN=aciimg-backend");
    expect(cert.issuer).toBe("CN=aciimg-backend");
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // Node reports extKeyUsage here: serverAuth
    expect(made.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("uses an ECDSA P-256 key and an ecdsa-with-SHA256 signature", () => {
    expect(cert.publicKey.asymmetricKeyType).toBe("ec");
    expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: "prime256v1" });
  });

  it("is valid from an hour before now to 30 days after, with a positive serial", () => {
    expect(new Date(cert.validFrom).toISOString()).toBe("2030-06-15T11:00:00.000Z");
    expect(new Date(cert.validTo).toISOString()).toBe("2030-07-15T12:00:00.000Z");
    expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it("reports the fingerprint exactly as X509Certificate#fingerprint256 prints it", () => {
    expect(made.fingerprint).toBe(cert.fingerprint256);
    expect(made.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprintOf(made.certPem)).toBe(made.fingerprint);
  });

  it("makes a new key and certificate on every call", () => {
    const other = createBackendCertificate(now);
    expect(other.keyPem).not.toBe(made.keyPem);
    expect(other.fingerprint).not.toBe(made.fingerprint);
    expect(new X509Certificate(other.certPem).serialNumber).not.toBe(cert.serialNumber);
  });

  it("writes GeneralizedTime for dates from 2050 on (RFC 5280 §4.1.2.5)", () => {
    const late = new X509Certificate(createBackendCertificate(new Date("2049-12-20T00:00:00Z")).certPem);
    expect(new Date(late.validFrom).toISOString()).toBe("2049-12-19T23:00:00.000Z");
    expect(new Date(late.validTo).toISOString()).toBe("2050-01-19T00:00:00.000Z");
  });

  it("serves a real TLS handshake on loopback", async () => {
    const fresh = createBackendCertificate(new Date());
    const server = createServer({ cert: fresh.certPem, key: fresh.keyPem }, (socket) => socket.end("hello"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const socket = connect({
        host: "127.0.0.1",
        port: (server.address() as AddressInfo).port,
        rejectUnauthorized: false,
      });
      await once(socket, "secureConnect");
      expect(socket.getPeerCertificate().fingerprint256).toBe(fresh.fingerprint);
      socket.destroy();
    } finally {
      server.close();
    }
  });

  it("is accepted by openssl x509 when openssl is installed", async (context) => {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-tls-"));
    try {
      const file = join(dir, "cert.pem");
      await writeFile(file, made.certPem);
      let text: string;
      try {
        ({ stdout: text } = await promisify(execFile)("openssl", ["x509", "-in", file, "-noout", "-text"], {
          timeout: 10_000,
        }));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          context.skip("openssl is not installed on this machine");
          return;
        }
        throw error;
      }
      expect(text).toContain("Version: 3 (0x2)");
      expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
      expect(text).toContain("ASN1 OID: prime256v1");
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
      expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
