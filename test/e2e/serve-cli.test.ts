/**
 * `aciimg serve` as a spawned CLI: it refuses to run without a key (or with a short one), serves
 * over real HTTP and HTTPS, warns when exposed without TLS, logs without secrets, and on SIGTERM
 * finishes the request in flight before exiting 0.
 */
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { createTestCa, issueServerCert } from "../arm-sim/ca.js";
import { startUpload } from "../helpers/upload-in-flight.js";
import { createWorkspace, type Workspace } from "./cli-harness.js";

const KEY = "e2e-serve-key-0123456789abcdef";
const workspaces: Workspace[] = [];
afterEach(async () => {
  for (const ws of workspaces.splice(0)) await ws.cleanup();
});

async function workspace(): Promise<Workspace> {
  const ws = await createWorkspace("aciimg-e2e-serve-");
  workspaces.push(ws);
  return ws;
}

/** Resolves with the URL from serve's "listening on …" line; bounded. */
function listeningUrl(child: ChildProcess, stderr: { text: string }, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not listen within ${timeoutMs} ms:\n${stderr.text}`)),
      timeoutMs,
    );
    const onData = () => {
      const match = /listening on (https?:\/\/[^\s]+)/.exec(stderr.text);
      if (match) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve(match[1] as string);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${stderr.text}`));
    });
  });
}

/**
 * The exit code once the child (just started) has exited and all its output is read: "close", not
 * "exit", which can be seen before the last lines of stderr are (the log lines a test then checks).
 */
const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => child.once("close", (code) => resolve(code)));

describe("aciimg serve (spawned CLI)", () => {
  it("refuses to start without a client key and says how to set one", async () => {
    const ws = await workspace();
    const result = await ws.run(["serve", "--port", "0"], { timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("ACIIMG_SERVE_KEY");
  });

  it("serves, logs without the key, and on SIGTERM finishes the request in flight then exits 0", async () => {
    const ws = await workspace();
    const child = ws.start(["serve", "--port", "0"], { env: { ACIIMG_SERVE_KEY: KEY } });
    const stderr = { text: "" };
    child.stderr?.on("data", (chunk: Buffer) => (stderr.text += chunk.toString()));
    const exited = exitOf(child);
    try {
      const url = await listeningUrl(child, stderr);
      const photo = await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#208080" } })
        .jpeg()
        .toBuffer();

      const first = await fetch(`${url}/resize?width=300&height=200&key=${KEY}`, { method: "POST", body: photo });
      expect(first.status).toBe(200);
      expect((await sharp(Buffer.from(await first.arrayBuffer())).metadata()).width).toBe(300);
      // On the local provider requests are checked by the built-in backend's rules: AVIF reaches it.
      const avif = await fetch(`${url}/resize?width=120&type=avif&key=${KEY}`, { method: "POST", body: photo });
      expect([avif.status, avif.headers.get("content-type")]).toEqual([200, "image/avif"]);

      // A request in flight: accepted by the server, part of the body sent.
      const upload = await startUpload(`${url}/resize?width=100`, KEY, photo, 1000);
      child.kill("SIGTERM");
      const res = await upload.finish();
      expect(res.status).toBe(200);
      expect((await sharp(res.body).metadata()).width).toBe(100);

      expect(await exited).toBe(0);
      expect(stderr.text).toMatch(/POST \/resize\?width=300&height=200 200 /);
      expect(stderr.text).not.toContain(KEY);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    }
  });
});

describe("aciimg serve exposed (spawned CLI)", () => {
  it("refuses a key shorter than 16 characters, saying how to make one, without printing it", async () => {
    const ws = await workspace();
    const result = await ws.run(["serve", "--port", "0"], { env: { ACIIMG_SERVE_KEY: "tiny-k3y" }, timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ACIIMG_SERVE_KEY or --key\) is 8 characters long; it must be at least 16/);
    expect(result.stderr).toContain("openssl rand -hex 32");
    expect(result.stderr).not.toContain("tiny-k3y");
  });

  it("warns on stderr when it listens beyond loopback over plain HTTP", async () => {
    const ws = await workspace();
    // 0.0.0.0 on a free port for a moment: nothing is sent to it, and it stops at once.
    const child = ws.start(["serve", "--host", "0.0.0.0", "--port", "0"], { env: { ACIIMG_SERVE_KEY: KEY } });
    const stderr = { text: "" };
    child.stderr?.on("data", (chunk: Buffer) => (stderr.text += chunk.toString()));
    const exited = exitOf(child);
    try {
      await listeningUrl(child, stderr);
      expect(stderr.text).toMatch(
        /WARNING: serve listens on 0\.0\.0\.0, reachable from other machines, over plain HTTP/,
      );
      expect(stderr.text).toContain("--tls-cert");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    }
  });

  it("names the flag of a TLS file it cannot use", async () => {
    const ws = await workspace();
    const missing = await ws.run(["serve", "--tls-cert", "nowhere.pem", "--tls-key", "nowhere.key"], {
      env: { ACIIMG_SERVE_KEY: KEY },
      timeoutMs: 20_000,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--tls-cert: cannot read ".*nowhere\.pem" \(ENOENT\)/);
    await writeFile(join(ws.dir, "junk.pem"), "not a certificate\n");
    const junk = await ws.run(["serve"], {
      env: { ACIIMG_SERVE_KEY: KEY, ACIIMG_SERVE_TLS_CERT: "junk.pem", ACIIMG_SERVE_TLS_KEY: "junk.pem" },
      timeoutMs: 20_000,
    });
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(
      /ACIIMG_SERVE_TLS_CERT\/ACIIMG_SERVE_TLS_KEY: .* are not a PEM certificate and its private key/,
    );
    const half = await ws.run(["serve", "--tls-key", "junk.pem"], {
      env: { ACIIMG_SERVE_KEY: KEY },
      timeoutMs: 20_000,
    });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--tls-cert (ACIIMG_SERVE_TLS_CERT) is not");
  });

  it(
    "serves HTTPS with --tls-cert/--tls-key, " +
      "and ends an upload that goes silent with 408 after its default few seconds",
    async () => {
      const ws = await workspace();
      const ca = createTestCa();
      const cert = issueServerCert(ca, ["127.0.0.1"]);
      await writeFile(join(ws.dir, "cert.pem"), cert.certPem);
      await writeFile(join(ws.dir, "key.pem"), cert.keyPem, { mode: 0o600 });
      const child = ws.start(["serve", "--port", "0", "--tls-cert", "cert.pem", "--tls-key", "key.pem"], {
        env: { ACIIMG_SERVE_KEY: KEY },
      });
      const stderr = { text: "" };
      child.stderr?.on("data", (chunk: Buffer) => (stderr.text += chunk.toString()));
      const exited = exitOf(child);
      try {
        const url = await listeningUrl(child, stderr);
        expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#604020" } })
          .jpeg()
          .toBuffer();
        const image = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          const req = httpsRequest(
            `${url}/resize?width=200`,
            { method: "POST", headers: { "api-key": KEY }, ca: ca.certPem, agent: false },
            (res) => {
              const chunks: Buffer[] = [];
              res
                .on("data", (chunk: Buffer) => chunks.push(chunk))
                .once("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
            },
          );
          req.once("error", reject);
          req.end(photo);
        });
        expect(image.status, image.body.toString()).toBe(200);
        expect((await sharp(image.body).metadata()).width).toBe(200);

        // A client that declares an image, sends its first bytes, then nothing.
        const { port } = new URL(url);
        const raw = await new Promise<string>((resolve, reject) => {
          const socket = tlsConnect({ host: "127.0.0.1", port: Number(port), ca: ca.certPem }, () => {
            socket.write(
              `POST /resize?width=100 HTTP/1.1\r\n` +
                `Host: 127.0.0.1\r\nAPI-Key: ${KEY}\r\nContent-Length: ${photo.length}\r\n\r\n`,
            );
            socket.write(photo.subarray(0, 100));
          });
          let text = "";
          const timer = setTimeout(
            () => reject(new Error(`no answer to a silent upload within 20 s: ${text}`)),
            20_000,
          );
          socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
          socket.once("close", () => {
            clearTimeout(timer);
            resolve(text);
          });
          socket.once("error", reject);
        });
        expect(raw).toMatch(/^HTTP\/1\.1 408 /);
        // The default bound, named in the answer rather than timed.
        expect(raw).toMatch(/less than 1024 bytes arrived in 5000 ms/);
        expect(stderr.text).not.toMatch(/WARNING/);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(stderr.text).not.toContain(KEY);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        await exited;
      }
    },
  );
});
