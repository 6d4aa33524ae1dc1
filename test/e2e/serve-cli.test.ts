/**
 * `aciimg serve` as a spawned CLI: it refuses to run without a key, serves over real HTTP, logs
 * without secrets, and on SIGTERM finishes the request in flight before exiting 0.
 */
import type { ChildProcess } from "node:child_process";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
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
    const timer = setTimeout(() => reject(new Error(`serve did not listen within ${timeoutMs} ms:\n${stderr.text}`)), timeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr.text);
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

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));

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
      const photo = await sharp({ create: { width: 1200, height: 800, channels: 3, background: "#208080" } }).jpeg().toBuffer();

      const first = await fetch(`${url}/resize?width=300&height=200&key=${KEY}`, { method: "POST", body: photo });
      expect(first.status).toBe(200);
      expect((await sharp(Buffer.from(await first.arrayBuffer())).metadata()).width).toBe(300);

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
