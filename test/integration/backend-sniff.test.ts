/**
 * Sniffing the format costs the same for any 4 KiB (issue 22, point 5): 40 short XML comments and
 * no <svg> made the SVG pattern backtrack exponentially, holding the backend's event loop (every
 * request, /health included) for far longer than any client waits. The backend is spawned, so a
 * blocked loop is its own and the test's bounded wait fails instead of hanging.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterAll, beforeAll, expect, test } from "vitest";

const cliPath = fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));
const key = "sniff-test-key";
let child: ChildProcessByStdio<null, Readable, Readable>;
let base: string;

beforeAll(async () => {
  child = spawn(process.execPath, [cliPath, "backend", "--host", "127.0.0.1", "--port", "0"], {
    env: { PATH: process.env.PATH ?? "", ACIIMG_BACKEND_KEY: key },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.resume();
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
    });
    child.once("close", (code) => reject(new Error(`backend exited (${code}) before listening`)));
  });
  base = (JSON.parse(line) as { listening: { url: string } }).listening.url;
});
afterAll(() => {
  child?.kill("SIGKILL");
});

test("a body of XML comments without <svg> is 406 at once, and the backend stays responsive", async () => {
  const body = Buffer.from(`${"<!-- a -->\n".repeat(40)}x`);
  // Bounded: with the exponential pattern this request (and the backend) hung for hours.
  const headers = { "API-Key": key };
  const res = await request(`${base}/resize?width=10`, { method: "POST", body, headers, headersTimeout: 15_000 });
  expect(res.statusCode).toBe(406);
  expect(await res.body.json()).toEqual({ message: "Unsupported media type", status: 406 });
  const health = await request(`${base}/health`, { headers: { "API-Key": key }, headersTimeout: 15_000 });
  expect(health.statusCode).toBe(200);
  await health.body.dump();
});
