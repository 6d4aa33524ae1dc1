/**
 * The client reaches an https:// backend only when it presents the pinned certificate (issue 11):
 * a real TLS backend answers; an impostor — even one whose certificate a CA this process trusts
 * signed (NODE_EXTRA_CA_CERTS, set by the ARM simulator's global setup) — receives no request and
 * never sees the key; and the backend logs a client that sends it plain HTTP as Go's net/http does.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { isAciimgError, type AciimgError } from "../../src/errors.js";
import { createImaginaryClient } from "../../src/client/client.js";
import { createBackendCertificate, fingerprintOf } from "../../src/providers/aci/tls.js";
import { issueServerCert, type TestCa } from "../arm-sim/ca.js";
import { CA_DIR_ENV } from "../arm-sim/global-setup.js";

const key = randomBytes(16).toString("hex");
const cliPath = fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));
const connectTimeoutMs = 3_000;

async function rejection(promise: Promise<unknown>): Promise<AciimgError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAciimgError(error)) throw new Error(`expected an AciimgError, got ${String(error)}`);
  return error;
}

/** Listens on a random loopback port; resolves with the port. */
async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** An impostor that records every request, every header and every TLS connection it gets. */
function impostor(tls: { cert: string; key: string } | undefined) {
  const seen = { connections: 0, requests: [] as Array<{ url: string; headers: IncomingMessage["headers"] }> };
  const onRequest = (req: IncomingMessage, res: import("node:http").ServerResponse): void => {
    seen.requests.push({ url: req.url ?? "", headers: req.headers });
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ uptime: 1, cpus: 2 }));
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
  server.on("connection", () => seen.connections++);
  return { server, seen };
}

describe("imaginary client pinned to a TLS backend", () => {
  const cert = createBackendCertificate(new Date());
  let backend: RunningBackend;
  let png: Buffer;

  beforeAll(async () => {
    backend = await startBackend({ apiKey: key, tls: { cert: cert.certPem, key: cert.keyPem }, cpus: 1 });
    png = await sharp({ create: { width: 120, height: 80, channels: 3, background: { r: 200, g: 30, b: 30 } } })
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("serves https and, with the right pin, answers /health and a real resize", async () => {
    expect(backend.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = createImaginaryClient({
      endpoint: backend.url,
      apiKey: key,
      tlsFingerprint: cert.fingerprint,
      connectTimeoutMs,
    });
    try {
      expect(await client.health()).toMatchObject({ cpus: expect.any(Number) });
      expect(await client.probe()).toMatchObject({ state: "healthy", info: { cpus: expect.any(Number) } });
      const response = await client.request({
        op: "resize",
        query: new URLSearchParams({ width: "60", type: "png" }),
        body: png,
        contentType: "image/png",
      });
      const out = await buffer(response.body);
      expect(await sharp(out).metadata()).toMatchObject({ format: "png", width: 60, height: 40 });
    } finally {
      await client.close();
    }
  });

  it("accepts the pin in lower case without colons", async () => {
    const client = createImaginaryClient({
      endpoint: backend.url,
      apiKey: key,
      tlsFingerprint: cert.fingerprint.replace(/:/g, "").toLowerCase(),
      connectTimeoutMs,
    });
    try {
      expect(await client.health()).toMatchObject({ cpus: expect.any(Number) });
    } finally {
      await client.close();
    }
  });

  it("refuses the real backend under another pin with E_BACKEND_UNTRUSTED (probe: untrusted)", async () => {
    const other = createBackendCertificate(new Date()).fingerprint;
    const client = createImaginaryClient({
      endpoint: backend.url,
      apiKey: key,
      tlsFingerprint: other,
      connectTimeoutMs,
    });
    try {
      const error = await rejection(client.health());
      expect(error.code).toBe("E_BACKEND_UNTRUSTED");
      expect(error.exitCode).toBe(4);
      expect(error.message).toContain(
        `the backend at ${backend.url} presented certificate ${cert.fingerprint} where ${other} was expected`,
      );
      expect(error.message).toContain("no API key, no image");
      expect(error.message).toContain("aciimg down");
      expect(error.detail).toEqual({ endpoint: backend.url, presented: cert.fingerprint, expected: other });
      expect(await client.probe()).toMatchObject({ state: "untrusted", error: { code: "E_BACKEND_UNTRUSTED" } });
    } finally {
      await client.close();
    }
  });

  it(
    "keeps one pin per client: a wrong-pin " + "client beside a connected right-pin one shares none of its connections",
    async () => {
      const right = createImaginaryClient({
        endpoint: backend.url,
        apiKey: key,
        tlsFingerprint: cert.fingerprint,
        connectTimeoutMs,
        connections: 1,
      });
      const wrong = createImaginaryClient({
        endpoint: backend.url,
        apiKey: key,
        tlsFingerprint: createBackendCertificate(new Date()).fingerprint,
        connectTimeoutMs,
        connections: 1,
      });
      try {
        expect(await right.probe()).toMatchObject({ state: "healthy" }); // leaves a keep-alive connection open
        expect(await wrong.probe()).toMatchObject({ state: "untrusted" });
        expect(await right.probe()).toMatchObject({ state: "healthy" });
        expect(await wrong.probe()).toMatchObject({ state: "untrusted" });
      } finally {
        await Promise.all([right.close(), wrong.close()]);
      }
    },
  );

  it("tells a refused key (unauthorized, 401) from an unreachable backend", async () => {
    const wrongKey = createImaginaryClient({
      endpoint: backend.url,
      apiKey: "not-the-key",
      tlsFingerprint: cert.fingerprint,
      connectTimeoutMs,
    });
    const probe = await wrongKey.probe();
    await wrongKey.close();
    expect(probe).toMatchObject({ state: "unauthorized", status: 401, error: { code: "E_IMAGE" } });

    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const gone = createImaginaryClient({
      endpoint: `https://127.0.0.1:${port}`,
      apiKey: key,
      tlsFingerprint: cert.fingerprint,
      connectTimeoutMs,
    });
    const unreachable = await gone.probe();
    await gone.close();
    expect(unreachable).toMatchObject({ state: "unreachable", error: { code: "E_BACKEND_UNREACHABLE" } });
  });

  it(
    "sends nothing to an impostor whose certificate a trusted CA signed, " +
      "and fails at the handshake, not by a timeout",
    async () => {
      const caDir = process.env[CA_DIR_ENV];
      expect(caDir, "the ARM simulator's global setup provides a CA this process trusts").toBeTruthy();
      const ca: TestCa = {
        certPem: readFileSync(join(caDir!, "ca.pem"), "utf8"),
        keyPem: readFileSync(join(caDir!, "ca-key.pem"), "utf8"),
      };
      const trusted = issueServerCert(ca, ["127.0.0.1"]);
      const fake = impostor({ cert: trusted.certPem, key: trusted.keyPem });
      const port = await listen(fake.server);
      try {
        // The machine trusts it: a validating TLS client accepts its certificate for 127.0.0.1.
        const probe = tlsConnect({ host: "127.0.0.1", port, servername: "localhost" });
        await once(probe, "secureConnect");
        expect(probe.authorized).toBe(true);
        probe.destroy();

        // A connect timeout longer than the test may run: only the refusal at the handshake can end
        // these calls in time (and it is E_BACKEND_UNTRUSTED naming both fingerprints, not a timeout).
        const client = createImaginaryClient({
          endpoint: `https://127.0.0.1:${port}`,
          apiKey: key,
          tlsFingerprint: cert.fingerprint,
          connectTimeoutMs: 3_600_000,
        });
        const errors = await Promise.all([
          rejection(
            client.request({
              op: "resize",
              query: new URLSearchParams({ width: "60" }),
              body: png,
              contentType: "image/png",
            }),
          ),
          rejection(client.health()),
        ]);
        await client.close();
        for (const error of errors) {
          expect(error.code).toBe("E_BACKEND_UNTRUSTED");
          expect(error.detail).toEqual({
            endpoint: `https://127.0.0.1:${port}`,
            presented: fingerprintOf(trusted.certPem),
            expected: cert.fingerprint,
          });
        }
        expect(fake.seen.connections).toBeGreaterThan(1); // the probe above, then the client's
        expect(fake.seen.requests).toEqual([]);
        expect(JSON.stringify(fake.seen)).not.toContain(key);
      } finally {
        fake.server.close();
      }
    },
  );

  it("refuses an endpoint that does not speak TLS, sending it nothing", async () => {
    const fake = impostor(undefined);
    const port = await listen(fake.server);
    try {
      const client = createImaginaryClient({
        endpoint: `https://127.0.0.1:${port}`,
        apiKey: key,
        tlsFingerprint: cert.fingerprint,
        connectTimeoutMs,
      });
      const error = await rejection(client.health());
      await client.close();
      expect(error.code).toBe("E_BACKEND_UNTRUSTED");
      expect(error.message).toContain("did not complete a TLS handshake");
      expect(fake.seen.requests).toEqual([]);
    } finally {
      fake.server.close();
    }
  });

  it("needs a pin for https:// and refuses one for http://", () => {
    expect(() => createImaginaryClient({ endpoint: backend.url, apiKey: key })).toThrow(/needs a tlsFingerprint/);
    expect(() =>
      createImaginaryClient({ endpoint: "http://127.0.0.1:1", apiKey: key, tlsFingerprint: cert.fingerprint }),
    ).toThrow(/refusing to drop the pin/);
    expect(() => createImaginaryClient({ endpoint: backend.url, apiKey: key, tlsFingerprint: "AB:CD" })).toThrow(
      /expected a SHA-256 fingerprint/,
    );
  });
});

describe("aciimg backend --tls-cert --tls-key", () => {
  it("listens on https and logs a plain-HTTP client as a TLS handshake error, as Go's net/http does", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-tls-backend-"));
    const cert = createBackendCertificate(new Date());
    await writeFile(join(dir, "cert.pem"), cert.certPem);
    await writeFile(join(dir, "key.pem"), cert.keyPem, { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [
        cliPath,
        "backend",
        "--port",
        "0",
        "--concurrency",
        "1",
        "--tls-cert",
        join(dir, "cert.pem"),
        "--tls-key",
        join(dir, "key.pem"),
      ],
      {
        env: { PATH: process.env.PATH ?? "", ACIIMG_BACKEND_KEY: key },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const output = { stdout: "", stderr: "" };
    child.stdout.on("data", (d: Buffer) => (output.stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output.stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
    /** Resolves when `test` matches the output; fails when the child exits first or after 20 s. */
    const waitFor = <T>(test: () => T | undefined, what: string): Promise<T> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = test();
          if (found === undefined) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${what} within 20 s:\n${output.stderr}`));
        }, 20_000);
        const onClose = (): void => {
          cleanup();
          reject(new Error(`backend exited before ${what}:\n${output.stderr}`));
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          child.stdout.off("data", check);
          child.stderr.off("data", check);
          child.off("close", onClose);
        };
        child.stdout.on("data", check);
        child.stderr.on("data", check);
        child.once("close", onClose);
        check();
      });
    try {
      const line = await waitFor(
        () => (output.stdout.includes("\n") ? output.stdout.slice(0, output.stdout.indexOf("\n")) : undefined),
        "listening line",
      );
      const { listening } = JSON.parse(line) as { listening: { host: string; port: number; url: string } };
      expect(listening.url).toBe(`https://127.0.0.1:${listening.port}`);

      const client = createImaginaryClient({
        endpoint: listening.url,
        apiKey: key,
        tlsFingerprint: cert.fingerprint,
        connectTimeoutMs,
      });
      expect(await client.health()).toMatchObject({ cpus: expect.any(Number) });
      await client.close();

      const plain = netConnect(listening.port, "127.0.0.1");
      await once(plain, "connect");
      const localPort = plain.localPort;
      plain.end(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAPI-Key: ${key}\r\n\r\n`);
      const logged = await waitFor(
        () => /^.*http: TLS handshake error from 127\.0\.0\.1:(\d+): .*$/m.exec(output.stderr) ?? undefined,
        "handshake error line",
      );
      expect(Number(logged[1])).toBe(localPort);
      expect(logged[0]).toMatch(
        /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d http: TLS handshake error from 127\.0\.0\.1:\d+: http request/,
      );
      expect(output.stderr).not.toContain(key);
      expect(output.stderr).not.toContain("PRIVATE KEY");
    } finally {
      child.kill("SIGTERM");
      expect(await closed).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
    expect(output.stdout.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("names the flag when a certificate file cannot be read (usage error, exit 2)", async () => {
    const child = spawn(
      process.execPath,
      [cliPath, "backend", "--port", "0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
      {
        env: { PATH: process.env.PATH ?? "", ACIIMG_BACKEND_KEY: key },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toContain('--tls-cert: cannot read "/nonexistent/cert.pem" (ENOENT)');
  });
});
