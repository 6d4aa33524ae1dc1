import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAciimgError, type AciimgError } from "../../src/errors.js";
import { createImaginaryClient } from "../../src/client/client.js";

const key = "test-key-123";

/**
 * A loopback server answering as imaginary does on the routes the client must handle
 * (docs/reference/imaginary-api.md §1.8 error bodies, §3 /health, the 429 text/plain of the throttle).
 */
function imaginaryLike(): {
  server: Server;
  connections: () => number;
  lastRequest: () => { url: string; headers: IncomingMessage["headers"] } | undefined;
} {
  let connections = 0;
  let last: { url: string; headers: IncomingMessage["headers"] } | undefined;
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    last = { url: req.url ?? "", headers: req.headers };
    if (req.headers["api-key"] !== key) return json(res, 401, { message: "Invalid or missing API key", status: 401 });
    const path = (req.url ?? "").split("?")[0];
    switch (path) {
      case "/health":
        return json(res, 200, { uptime: 1, cpus: 2 });
      case "/echo": {
        // Streams the body back as it arrives.
        res.writeHead(200, { "content-type": "application/octet-stream" });
        req.pipe(res);
        return;
      }
      case "/bad":
        req.resume();
        return json(res, 400, { message: "Error while processing the image: boom", status: 400 });
      case "/throttled":
        req.resume();
        res.writeHead(429, { "content-type": "text/plain" });
        return void res.end("limit exceeded");
      case "/empty":
        req.resume();
        res.writeHead(200, { "content-type": "image/jpeg", "content-length": "0" });
        return void res.end();
      case "/empty-chunked":
        req.resume();
        res.writeHead(200, { "content-type": "image/jpeg" });
        return void res.end();
      case "/hang":
        req.resume();
        return; // never answers
      default:
        req.resume();
        return json(res, 404, { message: "Not found", status: 404 });
    }
  });
  server.on("connection", () => {
    connections += 1;
  });
  return { server, connections: () => connections, lastRequest: () => last };
}

async function rejection(promise: Promise<unknown>): Promise<AciimgError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAciimgError(error)) throw new Error(`expected an AciimgError, got ${String(error)}`);
  return error;
}

describe("imaginary client", () => {
  const fake = imaginaryLike();
  let endpoint = "";
  let dir = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), "aciimg-client-"));
  });
  afterAll(async () => {
    fake.server.closeAllConnections();
    await new Promise((resolve) => fake.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("health() sends the key and returns imaginary's health JSON", async () => {
    const client = createImaginaryClient({ endpoint: `${endpoint}/`, apiKey: key });
    try {
      expect(await client.health()).toMatchObject({ cpus: 2 });
      expect(fake.lastRequest()?.headers["api-key"]).toBe(key);
    } finally {
      await client.close();
    }
  });

  it("health() with a wrong key fails with imaginary's 401 status and message", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: "wrong" });
    try {
      const error = await rejection(client.health());
      expect(error.code).toBe("E_IMAGE");
      expect(error.detail).toEqual({ status: 401, message: "Invalid or missing API key" });
    } finally {
      await client.close();
    }
  });

  it("streams a file body and the response, byte for byte, with the query and content type", async () => {
    const file = join(dir, "big.bin");
    const bytes = randomBytes(8 * 1024 * 1024 + 123);
    await writeFile(file, bytes);
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      const response = await client.request({
        op: "echo",
        query: new URLSearchParams({ width: "300", type: "webp" }),
        body: () => createReadStream(file, { highWaterMark: 64 * 1024 }),
        contentType: "image/jpeg",
      });
      expect(response.status).toBe(200);
      const echoed = await buffer(response.body);
      expect(createHash("sha256").update(echoed).digest("hex")).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(fake.lastRequest()?.url).toBe("/echo?width=300&type=webp");
      expect(fake.lastRequest()?.headers["content-type"]).toBe("image/jpeg");
      // No length given: the stream goes out chunked.
      expect(fake.lastRequest()?.headers["transfer-encoding"]).toBe("chunked");
    } finally {
      await client.close();
    }
  });

  it("sends a streamed body of known length with Content-Length, unchunked", async () => {
    const file = join(dir, "sized.bin");
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    await writeFile(file, bytes);
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      const response = await client.request({
        op: "echo",
        query: new URLSearchParams(),
        body: () => createReadStream(file),
        length: bytes.length,
      });
      const echoed = await buffer(response.body);
      expect(echoed.equals(bytes)).toBe(true);
      expect(fake.lastRequest()?.headers["content-length"]).toBe(String(bytes.length));
      expect(fake.lastRequest()?.headers["transfer-encoding"]).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it("reuses one keep-alive connection for sequential requests", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: key, connections: 1 });
    const before = fake.connections();
    try {
      for (let i = 0; i < 5; i++) {
        const response = await client.request({
          op: "echo",
          query: new URLSearchParams(),
          body: Buffer.from(`image ${i}`),
        });
        expect((await buffer(response.body)).toString()).toBe(`image ${i}`);
      }
      expect(fake.connections() - before).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("maps imaginary's JSON error body to E_IMAGE with its status and message", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      const error = await rejection(
        client.request({ op: "bad", query: new URLSearchParams(), body: Buffer.from("x") }),
      );
      expect(error.code).toBe("E_IMAGE");
      expect(error.detail).toEqual({ status: 400, message: "Error while processing the image: boom" });
      expect(error.message).toContain("Error while processing the image: boom");
    } finally {
      await client.close();
    }
  });

  it("maps the throttle's 429 text/plain body", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      const error = await rejection(
        client.request({ op: "throttled", query: new URLSearchParams(), body: Buffer.from("x") }),
      );
      expect(error.code).toBe("E_IMAGE");
      expect(error.detail).toEqual({ status: 429, message: "limit exceeded" });
    } finally {
      await client.close();
    }
  });

  it("treats an empty 200 as an error, with or without Content-Length", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      for (const op of ["empty", "empty-chunked"]) {
        const error = await rejection(client.request({ op, query: new URLSearchParams(), body: Buffer.from("x") }));
        expect(error.code).toBe("E_BACKEND_UNREACHABLE");
        expect(error.message).toContain("empty 200");
      }
    } finally {
      await client.close();
    }
  });

  it("maps a refused connection to E_BACKEND_UNREACHABLE with the cause", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = createImaginaryClient({ endpoint: `http://127.0.0.1:${port}`, apiKey: key });
    try {
      const error = await rejection(
        client.request({ op: "resize", query: new URLSearchParams(), body: Buffer.from("x") }),
      );
      expect(error.code).toBe("E_BACKEND_UNREACHABLE");
      expect(error.detail).toEqual({ code: "ECONNREFUSED" });
      expect(error.cause).toBeInstanceOf(Error);
      expect((await rejection(client.health())).code).toBe("E_BACKEND_UNREACHABLE");
    } finally {
      await client.close();
    }
  });

  it("maps a headers timeout to E_REQUEST_TIMEOUT naming the limit and the advice it was given", async () => {
    const client = createImaginaryClient({
      endpoint,
      apiKey: key,
      headersTimeoutMs: 200,
      timeoutAdvice: "Raise --request-timeout.",
    });
    try {
      const error = await rejection(
        client.request({ op: "hang", query: new URLSearchParams(), body: Buffer.from("x") }),
      );
      expect(error.code).toBe("E_REQUEST_TIMEOUT");
      expect(error.detail).toEqual({ code: "UND_ERR_HEADERS_TIMEOUT", timeoutMs: 200 });
      expect(error.message).toBe(
        `the backend at ${endpoint} gave no answer to /hang within 200ms. ` +
          `It may still be working on it, so it was not sent again. Raise --request-timeout.`,
      );
    } finally {
      await client.close();
    }
  });

  it("maps an aborted request to E_ABORTED", async () => {
    const client = createImaginaryClient({ endpoint, apiKey: key });
    try {
      const controller = new AbortController();
      const pending = client.request({
        op: "hang",
        query: new URLSearchParams(),
        body: Buffer.from("x"),
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 50);
      expect((await rejection(pending)).code).toBe("E_ABORTED");
    } finally {
      await client.close();
    }
  });
});
