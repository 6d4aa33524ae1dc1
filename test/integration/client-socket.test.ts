/**
 * The client over a `unix:` endpoint (socket-transport.ts, node:http instead of undici): real
 * servers on socket paths in a private temp dir, the failures client.test.ts covers over TCP
 * (timeouts, abort, unreachable) plus what a transport must not leak (failing uploads, dropped
 * bodies, connections kept alive and closed).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import { isAciimgError, type AciimgError } from "../../src/errors.js";
import { createImaginaryClient, type ImaginaryClient } from "../../src/client/client.js";
import { until } from "../helpers/wait.js";

const key = "socket-client-key";
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function socketPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "aciimg-csock-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "backend.sock");
}

/** A server on a fresh socket path that counts its connections and can say how many are still open. */
async function listen<T extends Server>(
  server: T,
): Promise<{ server: T; path: string; connections: () => number; open: () => number }> {
  const path = await socketPath();
  let connections = 0;
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { server, path, connections: () => connections, open: () => sockets.size };
}

/** imaginary-like enough: checks the key, echoes /echo with the request's headers, sends 4 MB on /big. */
function echoServer(): HttpServer {
  return createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.headers["api-key"] !== key) {
      res.writeHead(401, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ message: "Invalid or missing API key", status: 401 }));
    }
    if (req.url?.startsWith("/big")) {
      req.resume();
      res.writeHead(200, { "content-type": "application/octet-stream" });
      return void res.end(Buffer.alloc(4 * 1024 * 1024, 7));
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "x-seen-length": req.headers["content-length"] ?? "",
      "x-seen-encoding": req.headers["transfer-encoding"] ?? "",
    });
    req.pipe(res);
  });
}

function client(
  path: string,
  options: { connections?: number; headersTimeoutMs?: number; bodyTimeoutMs?: number } = {},
): ImaginaryClient {
  const made = createImaginaryClient({ endpoint: `unix:${path}`, apiKey: key, ...options });
  cleanups.push(() => made.close());
  return made;
}

async function rejection(promise: Promise<unknown>): Promise<AciimgError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAciimgError(error)) throw new Error(`expected an AciimgError, got ${String(error)}`);
  return error;
}

const post = (
  c: ImaginaryClient,
  body: Uint8Array | (() => Readable),
  extra: { op?: string; length?: number; signal?: AbortSignal } = {},
) =>
  c.request({ op: extra.op ?? "echo", query: new URLSearchParams(), body, length: extra.length, signal: extra.signal });

describe("imaginary client over a unix: socket", () => {
  it("sends the key, Content-Length when the length is known and chunked otherwise", async () => {
    const { path } = await listen(echoServer());
    const c = client(path);
    const sized = await post(c, () => Readable.from([Buffer.from("abc"), Buffer.from("de")]), { length: 5 });
    expect(sized.headers).toMatchObject({ "x-seen-length": "5", "x-seen-encoding": "" });
    expect((await buffer(sized.body)).toString()).toBe("abcde");
    const chunked = await post(c, () => Readable.from([Buffer.from("abc")]));
    expect(chunked.headers).toMatchObject({ "x-seen-length": "", "x-seen-encoding": "chunked" });
    expect((await buffer(chunked.body)).toString()).toBe("abc");
    const wrongKey = createImaginaryClient({ endpoint: `unix:${path}`, apiKey: "nope" });
    cleanups.push(() => wrongKey.close());
    expect((await rejection(wrongKey.health())).detail).toEqual({ status: 401, message: "Invalid or missing API key" });
  });

  it("reuses one keep-alive connection for sequential requests, and opens at most `connections` at once", async () => {
    const { path, connections } = await listen(echoServer());
    const c = client(path, { connections: 2 });
    for (let i = 0; i < 5; i++)
      expect((await buffer((await post(c, Buffer.from(`image ${i}`))).body)).toString()).toBe(`image ${i}`);
    expect(connections()).toBe(1);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(c, Buffer.from(`p${i}`)).then((r) => buffer(r.body))),
    );
    expect(answers.map(String)).toEqual(["p0", "p1", "p2", "p3", "p4", "p5"]);
    expect(connections()).toBe(2);
  });

  it("fails a request whose server accepts and never answers within headersTimeout, as undici's timeout", async () => {
    const { path, open } = await listen(createNetServer((socket) => socket.resume()));
    const c = client(path, { headersTimeoutMs: 200 });
    // Which timeout ended it, and its bound, are in the error's detail: no clock needed.
    const error = await rejection(post(c, Buffer.from("x"), { op: "resize" }));
    expect(error.code).toBe("E_REQUEST_TIMEOUT");
    expect(error.detail).toEqual({ code: "UND_ERR_HEADERS_TIMEOUT", timeoutMs: 200 });
    expect(error.message).toBe(
      `the backend at unix:${path} gave no answer to /resize within 200ms. ` +
        `It may still be working on it, so it was not sent again.`,
    );
    await until(() => open() === 0, "the timed-out connection to close");
  });

  it("fails a response whose body never comes within bodyTimeout, as undici's timeout", async () => {
    const stall = createNetServer((socket) => {
      socket.resume();
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ntransfer-encoding: chunked\r\n\r\n");
    });
    const { path, open } = await listen(stall);
    const c = client(path, { bodyTimeoutMs: 200 });
    const error = await rejection(post(c, Buffer.from("x"), { op: "resize" }));
    expect(error.code).toBe("E_REQUEST_TIMEOUT");
    expect(error.detail).toEqual({ code: "UND_ERR_BODY_TIMEOUT", timeoutMs: 200 });
    expect(error.message).toContain("stopped sending its answer to /resize (nothing more came within 200ms)");
    await until(() => open() === 0, "the stalled connection to close");
  });

  it("does not time out a body its reader is slow to take", async () => {
    const { path } = await listen(echoServer());
    // 1 s, not less: once the held body is read, a loaded machine may pause that long between chunks.
    const c = client(path, { bodyTimeoutMs: 1000 });
    const response = await c.request({ op: "big", query: new URLSearchParams(), body: Buffer.from("x") });
    // The reader holds the 4 MB body unread while the same body timeout fires three times, one
    // after another, on a control request whose server goes silent after its headers: each
    // timeout is the event that says the held body has outlived one more timeout.
    const silent = await listen(
      createNetServer((socket) => {
        socket.resume();
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ntransfer-encoding: chunked\r\n\r\n");
      }),
    );
    const control = client(silent.path, { bodyTimeoutMs: 1000 });
    for (let i = 0; i < 3; i++)
      expect((await rejection(post(control, Buffer.from("x"), { op: "resize" }))).detail).toEqual({
        code: "UND_ERR_BODY_TIMEOUT",
        timeoutMs: 1000,
      });
    expect((await buffer(response.body)).length).toBe(4 * 1024 * 1024);
  });

  it(
    "fails with the body's error when the upload stream fails, " + "closes that connection, and the next request works",
    async () => {
      const { path, open, connections } = await listen(echoServer());
      const c = client(path, { connections: 1 });
      const failure = Object.assign(new Error("disk went away"), { code: "EIO" });
      const failing = () =>
        new Readable({
          read() {
            this.push(Buffer.alloc(64 * 1024, 1));
            setImmediate(() => this.destroy(failure));
          },
        });
      const error = await post(c, failing, { length: 1024 * 1024 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBe(failure);
      await until(() => open() === 0, "the failed upload's connection to close");
      expect((await buffer((await post(c, Buffer.from("after"))).body)).toString()).toBe("after");
      expect(connections()).toBe(2);
    },
  );

  it("maps an abort while waiting for the answer to E_ABORTED and closes that connection", async () => {
    let received = 0;
    const { path, open } = await listen(createNetServer((socket) => socket.on("data", () => (received += 1))));
    const c = client(path);
    const controller = new AbortController();
    const pending = post(c, Buffer.from("x"), { op: "resize", signal: controller.signal });
    await until(() => received > 0, "the request to arrive");
    controller.abort();
    const error = await rejection(pending);
    expect(error.code).toBe("E_ABORTED");
    expect(error.message).toBe(`request /resize to unix:${path} was cancelled`);
    await until(() => open() === 0, "the aborted connection to close");
  });

  it(
    "an abort after the answer started fails its body with the signal's reason; " +
      "a dropped body frees its connection",
    async () => {
      const { path, open } = await listen(echoServer());
      const c = client(path);
      const controller = new AbortController();
      const response = await c.request({
        op: "big",
        query: new URLSearchParams(),
        body: Buffer.from("x"),
        signal: controller.signal,
      });
      controller.abort();
      await expect(buffer(response.body)).rejects.toMatchObject({ name: "AbortError" });
      await until(() => open() === 0, "the aborted body's connection to close");
      const dropped = await c.request({ op: "big", query: new URLSearchParams(), body: Buffer.from("x") });
      dropped.body.destroy();
      await until(() => open() === 0, "the dropped body's connection to close");
    },
  );

  it("maps a missing socket and a dead one to E_BACKEND_UNREACHABLE", async () => {
    const missing = client(await socketPath());
    expect((await rejection(missing.health())).detail).toEqual({ code: "ENOENT" });
    // A socket file whose listener was killed, as kill -9 leaves it: connecting is refused.
    const path = await socketPath();
    const child = spawn(
      process.execPath,
      [
        "-e",
        `require("node:net").createServer().listen(${JSON.stringify(path)}, ` +
          `() => process.kill(process.pid, "SIGKILL"))`,
      ],
      { stdio: "ignore" },
    );
    await new Promise((resolve) => child.once("close", resolve));
    expect((await rejection(client(path).health())).detail).toEqual({ code: "ECONNREFUSED" });
  });

  it("close() waits for a request in flight, then closes its idle connections", async () => {
    const { path, open } = await listen(echoServer());
    const c = createImaginaryClient({ endpoint: `unix:${path}`, apiKey: key });
    const response = await post(c, Buffer.from("still reading"));
    const closing = c.close();
    expect((await buffer(response.body)).toString()).toBe("still reading");
    await closing;
    await until(() => open() === 0, "the client's connections to close");
    expect((await rejection(c.health())).detail).toEqual({ code: "UND_ERR_CLOSED" });
  });
});
