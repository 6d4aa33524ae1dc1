/**
 * A client uploading past the size limit reads the 413: the built-in backend (on its Unix socket)
 * and `serve` (on TCP) send the answer whole, then read and drop the rest of the body, bounded,
 * before closing. Closing at once reset the connection with the upload unread, and a client still
 * sending got EPIPE or ECONNRESET instead of the answer. Real servers on loopback, Node's fetch
 * (undici) and raw sockets.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackend, type RunningBackend } from "../../src/backend/server.js";
import { openEngine } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { Engine } from "../../src/engine/types.js";
import { lingerBounds } from "../../src/protocol/linger.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";

const KEY = "upload-linger-key-0123456789";
const LIMIT = 1_000_000;
let dir: string;
let backend: RunningBackend;
let socketAgent: Agent;
let engine: Engine;
let serve: HttpServer;
const logs = { backend: [] as string[], serve: [] as string[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "aciimg-linger-"));
  backend = await startBackend({
    apiKey: KEY,
    maxUploadBytes: LIMIT,
    socketPath: join(dir, "backend.sock"),
    log: (line) => logs.backend.push(line),
  });
  socketAgent = new Agent({ connect: { socketPath: join(dir, "backend.sock") } });
  // serve refuses an oversized upload before it wakes a backend: the engine is never used.
  engine = await openEngine(loadConfig({ provider: "local", state: join(dir, "state.json") }, { HOME: dir }, dir));
  serve = await startHttpServer({
    engine,
    host: "127.0.0.1",
    port: 0,
    key: KEY,
    maxUploadBytes: LIMIT,
    reapEveryMs: 0,
    log: (line) => logs.serve.push(line),
  });
});
afterAll(async () => {
  await serve?.close();
  await socketAgent?.close();
  await backend?.close();
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Where each server listens, as fetch and a raw socket reach it. */
const targets = {
  backend: {
    url: () => "http://backend.invalid/resize?width=10",
    dispatcher: () => socketAgent,
    connect: () => connect(join(dir, "backend.sock")),
    message: `Request body too large: the limit is ${LIMIT} bytes`,
  },
  serve: {
    url: () => `${serve.url}/resize?width=10`,
    dispatcher: () => undefined,
    connect: () => {
      const { hostname, port } = new URL(serve.url);
      return connect(Number(port), hostname);
    },
    message: `Request body too large: the limit is ${LIMIT} bytes`,
  },
} as const;

type Ending = { answer: string; ended: "cleanly" | `with ${string}`; sentAfterAnswer: number };

/**
 * A raw client: sends a chunked POST, `before` bytes, then waits for the whole answer (its
 * Content-Length of body), then sends `after` more bytes (Infinity: until the server stops it)
 * and the last chunk. Resolves when the connection closes, with how it closed.
 */
function stubbornUpload(socket: Socket, before: number, after: number): Promise<Ending> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
  return new Promise((resolve) => {
    let received = "";
    let answered = false;
    let sentAfterAnswer = 0;
    let error: NodeJS.ErrnoException | undefined;
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error ??= e;
    });
    socket.on("close", () => {
      const ended = error ? (`with ${error.code ?? error.message}` as const) : ("cleanly" as const);
      resolve({ answer: received, ended, sentAfterAnswer });
    });
    const send = (budget: number, then: () => void): void => {
      let left = budget;
      const pump = (): void => {
        while (left > 0 && !socket.destroyed) {
          left -= chunk.length;
          if (answered) sentAfterAnswer += chunk.length;
          if (!socket.write(frame)) {
            socket.once("drain", pump);
            return;
          }
        }
        if (!socket.destroyed) then();
      };
      pump();
    };
    socket.on("data", (data: Buffer) => {
      received += data.toString("latin1");
      const head = received.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(received)?.[1];
      if (!answered && head >= 0 && length !== undefined && received.length >= head + 4 + Number(length)) {
        answered = true;
        send(after, () => socket.write("0\r\n\r\n"));
      }
    });
    socket.write(`POST /resize?width=10 HTTP/1.1\r\nHost: x\r\nAPI-Key: ${KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    send(before, () => {});
  });
}

for (const [name, target] of Object.entries(targets)) {
  describe(`${name}: an upload past the limit`, () => {
    it("gets the 413 and its JSON body through Node's fetch, sending a body 50 times the limit", async () => {
      const dispatcher = target.dispatcher();
      for (let round = 0; round < 3; round += 1) {
        const response = await fetch(target.url(), {
          method: "POST",
          headers: { "API-Key": KEY },
          body: Buffer.alloc(50 * LIMIT, 1),
          ...(dispatcher ? { dispatcher } : {}),
        } as RequestInit);
        expect(response.status).toBe(413);
        expect(await response.json()).toEqual({ message: target.message, status: 413 });
      }
    });

    it("is read to its end after the answer, and the connection then closes cleanly, not with a reset", async () => {
      const ending = await stubbornUpload(target.connect(), 2 * LIMIT, 4 * LIMIT);
      expect(ending.answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(ending.answer).toMatch(/\r\nconnection: close\r\n/i);
      const body = ending.answer.slice(ending.answer.indexOf("\r\n\r\n") + 4);
      expect(body).toBe(JSON.stringify({ message: target.message, status: 413 }));
      expect(ending.sentAfterAnswer).toBeGreaterThanOrEqual(4 * LIMIT);
      expect(ending.ended).toBe("cleanly");
    });

    it("from a client that never stops is cut off once the drain bound is read", async () => {
      const before = logs[name as keyof typeof logs].length;
      const ending = await stubbornUpload(target.connect(), 2 * LIMIT, Infinity);
      expect(ending.answer).toMatch(/^HTTP\/1\.1 413 /);
      // The connection closed (this resolved) after the bound: the server says how much it dropped.
      const lines = logs[name as keyof typeof logs].slice(before);
      const cut = lines.find((line) => line.startsWith("closed a connection still sending"));
      const dropped = Number(/: (\d+) bytes of its body dropped/.exec(cut ?? "")?.[1]);
      expect(dropped).toBeGreaterThanOrEqual(lingerBounds.maxBytes);
      expect(dropped).toBeLessThan(lingerBounds.maxBytes + 1024 * 1024);
      expect(ending.sentAfterAnswer).toBeGreaterThanOrEqual(lingerBounds.maxBytes - 2 * LIMIT);
    });
  });
}
