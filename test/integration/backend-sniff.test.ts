/**
 * Sniffing the format costs the same for any 4 KiB (issue 22, point 5): 40 short XML comments and
 * no <svg> made the SVG pattern backtrack exponentially, holding the backend's event loop (every
 * request, /health included) for far longer than any client waits. The backend is spawned, so a
 * blocked loop is its own and the test's bounded wait fails instead of hanging.
 */
import { request } from "undici";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTcpBackend, type TcpBackend } from "../helpers/tcp-backend.js";

const key = "sniff-test-key";
let child: TcpBackend["child"];
let base: string;

beforeAll(async () => {
  ({ child, base } = await startTcpBackend(key));
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
