/**
 * Lifecycle and resource bounds of the built-in backend: 100 concurrent requests with bounded
 * memory, the queue in front of libvips, client disconnects, the streaming body limit, graceful
 * close, access logs without the key.
 */
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import sharp from "sharp";
import { request } from "undici";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { makeJpeg } from "../helpers/images.js";
import { until } from "../helpers/wait.js";
import { call } from "./backend-http.js";

const key = "load-test-key";
const auth = { "API-Key": key };
let photo: Buffer;
const started: RunningBackend[] = [];

beforeAll(async () => {
  photo = await makeJpeg(2000, 1500);
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((b) => b.close()));
});

async function backendWith(options: Partial<Parameters<typeof startBackend>[0]> = {}): Promise<RunningBackend> {
  const b = await startBackend({ apiKey: key, ...options });
  started.push(b);
  return b;
}

/** Waits, bounded, until /health's `goroutines` (in flight + queued) equals `n`. */
async function waitForLoad(b: RunningBackend, n: number): Promise<void> {
  const get = { method: "GET", headers: auth };
  const load = async () => ((await call(b.url, "/health", get)).json() as { goroutines: number }).goroutines;
  await until(async () => (await load()) === n, `a backend load of ${n}`);
}

/** A request body that sends `head` and then waits until `release()` before finishing. */
function stalledBody(head: Buffer) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  async function* body() {
    yield head.subarray(0, 1024);
    await gate;
    yield head.subarray(1024);
  }
  return { body: Readable.from(body()), release };
}

describe("load", () => {
  test("100 concurrent requests all succeed and RSS growth stays bounded", async () => {
    const b = await backendWith({ concurrency: 2 });
    await call(b.url, "/rotate?rotate=90", { body: photo, headers: auth }); // warm up libvips
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const results = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await call(b.url, "/rotate?rotate=90", { body: photo, headers: auth });
        peak = Math.max(peak, process.memoryUsage().rss);
        return res;
      }),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    const meta = await sharp(results[99]!.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([1500, 2000]);
    // Unbounded, 100 decoded 2000x1500 images would need ~900 MB; two slots need a few dozen.
    expect(peak - baseline).toBeLessThan(300 * 1024 * 1024);
    await waitForLoad(b, 0);
  });

  test("a queued request whose client leaves is dropped from the queue", async () => {
    // concurrency 1: two bodies may be read at once (intake 2x), a third request waits unread.
    const b = await backendWith({ concurrency: 1 });
    const stalled = [stalledBody(photo), stalledBody(photo)];
    const replies = stalled.map((s) =>
      request(`${b.url}/resize?width=100`, { method: "POST", body: s.body, headers: auth }),
    );
    await waitForLoad(b, 2);
    const leaving = new AbortController();
    const queued = request(`${b.url}/resize?width=100`, {
      method: "POST",
      body: photo,
      headers: auth,
      signal: leaving.signal,
    });
    await waitForLoad(b, 3);
    leaving.abort();
    await expect(queued).rejects.toThrow();
    await waitForLoad(b, 2);
    stalled.forEach((s) => s.release());
    for (const reply of replies) {
      const res = await reply;
      expect(res.statusCode).toBe(200);
      await res.body.arrayBuffer();
    }
    await waitForLoad(b, 0);
  });

  test("a chunked body is refused with 413 as soon as it crosses the limit", async () => {
    const b = await backendWith({ maxUploadBytes: 1_000_000 });
    const chunk = Buffer.alloc(64 * 1024, 7);
    const total = 50 * 1024 * 1024;
    const { status, body, sent } = await new Promise<{ status: number; body: string; sent: number }>(
      (resolve, reject) => {
        let sent = 0;
        let answered = false;
        const req = httpRequest(
          `${b.url}/resize?width=10`,
          { method: "POST", headers: { ...auth, "Transfer-Encoding": "chunked" } },
          (res) => {
            // The backend reads what is still in flight (linger.ts): sending stops here and the body
            // ends, so no write races a closed connection, however loaded the machine is.
            answered = true;
            req.end();
            let text = "";
            res.on("data", (d: Buffer) => {
              text += d.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, sent }));
          },
        );
        req.on("error", reject);
        const pump = (): void => {
          while (!answered && sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once("drain", pump);
              return;
            }
          }
          if (!answered) req.end();
        };
        pump();
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ message: "Request body too large: the limit is 1000000 bytes", status: 413 });
    expect(sent).toBeLessThan(total / 2);
  });
});

describe("lifecycle", () => {
  test("close() lets an in-flight request finish, then resolves", async () => {
    const events: string[] = [];
    const b = await startBackend({
      apiKey: key,
      concurrency: 1,
      log: (line) => {
        if (line.includes("/resize")) events.push(`served ${line.split('" ')[1]?.split(" ")[0]}`);
      },
    });
    const inflight = stalledBody(photo);
    const reply = request(`${b.url}/resize?width=100`, { method: "POST", body: inflight.body, headers: auth });
    await waitForLoad(b, 1);
    const closed = b.close().then(() => events.push("closed"));
    inflight.release();
    const res = await reply;
    expect(res.statusCode).toBe(200);
    expect((await res.body.arrayBuffer()).byteLength).toBeGreaterThan(100);
    await closed;
    expect(events).toEqual(["served 200", "closed"]);
    await expect(request(`${b.url}/health`, { headers: auth })).rejects.toThrow();
  });

  test("an empty API key is refused", async () => {
    await expect(startBackend({ apiKey: "" })).rejects.toThrow(/API key is required/);
  });

  test("access log lines never contain the key", async () => {
    const lines: string[] = [];
    const b = await backendWith({ log: (line) => lines.push(line) });
    await call(b.url, `/health?key=${key}`, { method: "GET" });
    await call(b.url, `/resize?width=20&key=${key}`, { body: photo });
    await call(b.url, "/health", { method: "GET", headers: auth });
    expect(lines).toHaveLength(3);
    expect(lines.join("\n")).not.toContain(key);
    expect(lines[0]).toMatch(
      /^127\.0\.0\.1 - - \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] "GET \/health\?key=REDACTED HTTP\/1\.1" 200 \d+ [\d.]+$/,
    );
  });
});
