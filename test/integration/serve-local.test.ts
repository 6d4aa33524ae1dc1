/**
 * `aciimg serve`'s server over real HTTP on loopback, on a real engine with the local provider
 * (a real backend process), state in a temp dir.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { watch } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEngine } from "../../src/compose.js";
import { loadConfig, type Config } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";
import { startUpload } from "../helpers/upload-in-flight.js";
import { until } from "../helpers/wait.js";

const KEY = "serve-test-key-0123456789";
const MAX_UPLOAD = 1_000_000;

let dir: string;
let config: Config;
let engine: Engine;
let server: HttpServer;
const logLines: string[] = [];
let photo: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-serve-"));
  config = loadConfig({ provider: "local", state: join(dir, "state.json") }, { HOME: dir }, dir);
  engine = await openEngine(config);
  server = await startHttpServer({
    engine,
    host: "127.0.0.1",
    port: 0,
    key: KEY,
    maxUploadBytes: MAX_UPLOAD,
    log: (line) => logLines.push(line),
  });
  photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: "#3080c0" } })
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await server?.close();
  await engine?.down().catch(() => undefined);
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = (path: string, body: Uint8Array | string, headers: Record<string, string> = { "api-key": KEY }) =>
  fetch(`${server.url}${path}`, { method: "POST", body, headers });

async function expectJsonError(response: Response, status: number, message: string | RegExp): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  const body = (await response.json()) as { message: string; status: number };
  expect(body.status).toBe(status);
  if (typeof message === "string") expect(body.message).toBe(message);
  else expect(body.message).toMatch(message);
}

/** Registry entries the local provider keeps, one per backend it started and has not deleted. */
async function localBackends(): Promise<string[]> {
  const entries = await readdir(join(dir, "local")).catch(() => [] as string[]);
  return entries.filter((name) => /^backend-\d+\.json$/.test(name));
}

describe("aciimg serve with the local provider", () => {
  it("answers bad requests with imaginary's status and JSON body, and never provisions for them", async () => {
    await expectJsonError(await post("/resize?width=300", photo, {}), 401, "Invalid or missing API key");
    await expectJsonError(
      await post("/resize?width=300", photo, { "api-key": "wrong" }),
      401,
      "Invalid or missing API key",
    );
    await expectJsonError(await post("/resize?width=300&key=wrong", photo, {}), 401, "Invalid or missing API key");
    await expectJsonError(await post("/sharpen?width=300", photo), 404, "Not found");
    await expectJsonError(
      await fetch(`${server.url}/resize?width=300`, { headers: { "api-key": KEY } }),
      405,
      /^GET method not allowed/,
    );
    await expectJsonError(
      await fetch(`${server.url}/resize`, { method: "PUT", body: photo, headers: { "api-key": KEY } }),
      405,
      /^HTTP method not allowed/,
    );
    await expectJsonError(
      await post("/resize?width=abc", photo),
      400,
      /^Error while processing parameters, .*"width" with value "abc"/,
    );
    await expectJsonError(
      await post("/resize", photo),
      400,
      "Error while processing the image: Missing required param: height or width",
    );
    await expectJsonError(await post("/resize?width=300", "1".repeat(1024)), 406, "Unsupported media type");
    await expectJsonError(await post("/resize?width=300", new Uint8Array(0)), 400, "Empty or unreadable image");
    await expectJsonError(await post("/resize?width=300", new Uint8Array(MAX_UPLOAD + 1)), 413, /too large/);
    await expectJsonError(
      await post("/watermarkimage?image=http://169.254.169.254/", photo),
      501,
      "Not implemented endpoint",
    );

    expect((await engine.status()).state).toBe("none");
    expect(await localBackends()).toEqual([]);
  });

  it("answers a request Node cannot parse with imaginary's JSON shape", async () => {
    const { port } = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      let text = "";
      socket
        .on("data", (chunk) => (text += chunk.toString()))
        .once("end", () => resolve(text))
        .once("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))).toEqual({ message: "Bad Request", status: 400 });
  });

  it("answers 413 while an oversized upload is still being sent, without waiting for its end", async () => {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${server.url}/resize?width=300`,
        { method: "POST", headers: { "api-key": KEY } },
        resolve,
      );
      req.once("error", reject);
      // Chunked, no Content-Length: the limit is found by counting. The request is never ended.
      req.write(Buffer.alloc(MAX_UPLOAD + 64 * 1024, 0xff));
    });
    expect(response.statusCode).toBe(413);
    const body = await new Promise<string>((resolve) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString())).once("end", () => resolve(text));
    });
    expect(JSON.parse(body)).toMatchObject({ status: 413 });
    response.socket.destroy();
  });

  it("serves 50 concurrent requests on a cold backend with one backend start and 50 correct images", async () => {
    expect(await localBackends()).toEqual([]);
    // Counts backend starts as they happen (one registry entry each), even one started and deleted.
    await mkdir(join(dir, "local"), { recursive: true });
    const started = new Set<string>();
    const watcher = watch(join(dir, "local"), (_event, file) => {
      if (file && /^backend-\d+\.json$/.test(String(file))) started.add(String(file));
    });
    const responses = await Promise.all(Array.from({ length: 50 }, () => post("/resize?width=300&height=200", photo)));
    const images = await Promise.all(
      responses.map(async (response) => {
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe("image/jpeg");
        return sharp(Buffer.from(await response.arrayBuffer())).metadata();
      }),
    );
    watcher.close();
    for (const image of images) expect([image.format, image.width, image.height]).toEqual(["jpeg", 300, 200]);
    expect(started.size).toBe(1);
    expect(await localBackends()).toHaveLength(1);
    expect(await engine.provider.list()).toHaveLength(1);
  });

  it("replays a streamed upload on a new backend when the one in use vanished", async () => {
    const before = await engine.status({ showKey: true });
    const record = (await engine.provider.list()).find((ref) =>
      before.endpoint?.endsWith(`/backend-${ref.id.split("@")[1]}.sock`),
    );
    expect(record).toBeDefined();
    // Killed behind the engine's back, as a reaper elsewhere (or a crash) would.
    await engine.provider.delete(record!);
    const response = await post("/resize?width=300&height=200", photo);
    expect(response.status).toBe(200);
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([300, 200]);
    expect((await engine.status()).endpoint).not.toBe(before.endpoint);
  });

  it("passes imaginary's errors through exactly as the backend gives them", async () => {
    const { endpoint, apiKey } = await engine.status({ showKey: true });
    expect(endpoint && apiKey).toBeTruthy();
    // A JPEG signature followed by garbage passes our sniff; the backend decides.
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]);
    // The local backend listens on a Unix socket (endpoint unix:/…/backend-<instance>.sock).
    const socket = new Agent({ connect: { socketPath: (endpoint as string).replace(/^unix:/, "") } });
    for (const [path, body] of [
      ["/resize?width=300", broken],
      ["/fit?width=300", photo],
    ] as const) {
      const direct = await undiciFetch(`http://localhost${path}`, {
        method: "POST",
        body,
        headers: { "api-key": apiKey as string },
        dispatcher: socket,
      });
      const proxied = await post(path, body);
      expect(direct.status).toBeGreaterThanOrEqual(400);
      expect(proxied.status).toBe(direct.status);
      expect(await proxied.json()).toEqual(await direct.json());
    }
    await socket.close();
  });

  it("takes the image from the multipart field `file`", async () => {
    const form = new FormData();
    form.append("file", new Blob([photo], { type: "image/jpeg" }), "photo.jpg");
    const response = await fetch(`${server.url}/resize?width=120&type=png`, {
      method: "POST",
      body: form,
      headers: { "api-key": KEY },
    });
    expect(response.status).toBe(200);
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.format, meta.width]).toEqual(["png", 120]);
  });

  it("answers /health without a key and /status only with one, never showing the backend's key", async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    await expectJsonError(await fetch(`${server.url}/status`), 401, "Invalid or missing API key");
    const { apiKey } = await engine.status({ showKey: true });
    const status = await fetch(`${server.url}/status`, { headers: { "api-key": KEY } });
    expect(status.status).toBe(200);
    const text = await status.text();
    expect(JSON.parse(text)).toMatchObject({ provider: "local", state: "running" });
    expect(text).not.toContain(apiKey as string);
  });

  it("logs one line per request without the client's key", async () => {
    const before = logLines.length;
    const response = await post(`/resize?width=64&key=${KEY}`, photo, {});
    expect(response.status).toBe(200);
    const body = await response.arrayBuffer();
    // The line is written once the server has finished sending; bounded wait for it.
    const find = () => logLines.slice(before).find((l) => l.includes("POST /resize"));
    await until(() => find() !== undefined, "the access log line", 5_000);
    const line = find();
    expect(line).toMatch(/POST \/resize\?width=64 200 \d+ms \d+B$/);
    // The byte count is what was sent: the image, not a header that may be absent (streamed bodies).
    expect(Number(/ (\d+)B$/.exec(line ?? "")?.[1])).toBe(body.byteLength);
    expect(logLines.join("\n")).not.toContain(KEY);
  });

  it("on close stops accepting, finishes the request in flight, then resolves", async () => {
    const second = await startHttpServer({
      engine,
      host: "127.0.0.1",
      port: 0,
      key: KEY,
      maxUploadBytes: MAX_UPLOAD,
      log: () => {},
    });
    const upload = await startUpload(`${second.url}/resize?width=100`, KEY, photo, Math.floor(photo.length / 2));
    let closed = false;
    const closing = second.close().then(() => (closed = true));
    // New connections are refused at once…
    await expect(fetch(`${second.url}/health`)).rejects.toThrow();
    expect(closed).toBe(false);
    // …while the one in flight completes.
    const res = await upload.finish();
    expect(res.status).toBe(200);
    expect((await sharp(res.body).metadata()).width).toBe(100);
    await closing;
    expect(closed).toBe(true);
  });

  it("bounds the upload bytes held at once: past the budget a request gets 503 + Retry-After, unread", async () => {
    // Room for one photo's body, not two.
    const bounded = await startHttpServer({
      engine,
      host: "127.0.0.1",
      port: 0,
      key: KEY,
      maxUploadBytes: MAX_UPLOAD,
      maxBufferedBytes: Math.ceil(photo.length * 1.5),
      log: () => {},
    });
    try {
      // The budget holds what has arrived (not what is declared): all but the last 1000 bytes.
      const holding = await startUpload(`${bounded.url}/resize?width=100`, KEY, photo, photo.length - 1000);
      // Bounded wait until those bytes have reached the server (until then a second upload fits and is served).
      let refused: Response | undefined;
      await until(
        async () => {
          const response = await fetch(`${bounded.url}/resize?width=100`, {
            method: "POST",
            headers: { "api-key": KEY },
            body: photo,
          });
          if (response.status === 503) return Boolean((refused = response));
          expect(response.status).toBe(200);
          await response.arrayBuffer();
          return false;
        },
        "an upload refused while the held one fills the budget",
        5_000,
      );
      expect(refused?.status).toBe(503);
      expect(refused?.headers.get("retry-after")).toBe("1");
      expect(await refused?.json()).toEqual({ message: "Too many uploads in progress; retry shortly", status: 503 });
      // The held upload still completes, and its bytes are released afterwards.
      const held = await holding.finish();
      expect(held.status).toBe(200);
      const after = await fetch(`${bounded.url}/resize?width=100`, {
        method: "POST",
        headers: { "api-key": KEY },
        body: photo,
      });
      expect(after.status).toBe(200);
      expect((await sharp(Buffer.from(await after.arrayBuffer())).metadata()).width).toBe(100);
    } finally {
      await bounded.close();
    }
  });

  it("reaps its idle backend by itself, and the next request starts a new one", async () => {
    const lines: string[] = [];
    const reaping = await startHttpServer({
      engine,
      host: "127.0.0.1",
      port: 0,
      key: KEY,
      maxUploadBytes: MAX_UPLOAD,
      log: (line) => lines.push(line),
      idleMs: 300,
      reapEveryMs: 100,
    });
    try {
      const first = await fetch(`${reaping.url}/resize?width=50`, {
        method: "POST",
        body: photo,
        headers: { "api-key": KEY },
      });
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      // Bounded wait for the condition: the reaper has reported a pass that removed the backend.
      const reaped = () => lines.some((line) => /reaped backend default \(idle\)/.test(line));
      await until(reaped, "the reaper's report", 15_000);
      expect(await engine.provider.list()).toEqual([]);
      expect(lines.join("\n")).toMatch(/reaped backend default \(idle\)/);
      const next = await fetch(`${reaping.url}/resize?width=50`, {
        method: "POST",
        body: photo,
        headers: { "api-key": KEY },
      });
      expect(next.status).toBe(200);
      await next.arrayBuffer();
    } finally {
      await reaping.close();
    }
  });
});
