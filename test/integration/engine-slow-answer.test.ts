/**
 * A slow answer is not a vanished backend (issue 21 point 5): a request the backend holds past the
 * request timeout fails once with E_REQUEST_TIMEOUT and is never sent again, to it or to a pool's
 * other member; a broken connection or a backend that is gone is still re-ensured and re-sent.
 *
 * The real local backend, reached through a gate: a real HTTP server on a Unix socket that the
 * state record points at (as the state would after the backend moved). It passes /health and
 * every image request on to the backend, counting the image requests, and on the test's word
 * holds one (until released) or breaks its connection (a backend that crashed on the image). The
 * request timeout comes from the configuration (ACIIMG_REQUEST_TIMEOUT), small, so a held request
 * times out without the test sleeping: it waits on the rejection.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { openEngine, openProvider, openStore } from "../../src/compose.js";
import { backendSpecOf, loadConfig, requestTimeoutAdvice, type Config } from "../../src/config.js";
import { createEngine } from "../../src/engine/engine.js";
import { createPool } from "../../src/engine/pool.js";
import type { BackendRecord } from "../../src/engine/types.js";
import { isAciimgError, type AciimgError } from "../../src/errors.js";
import { makeJpeg } from "../helpers/images.js";

type GateMode = "pass" | "hold" | "reset-first";

interface Gate {
  endpoint: string;
  /** Image requests that reached the gate (not /health). */
  received(): number;
  mode: GateMode;
  /** Answers the held requests with a 503 and passes the next ones on. */
  release(): void;
  close(): Promise<void>;
}

/** The gate in front of the backend listening on `backendSocket` (see the file's comment). */
async function openGate(dir: string, backendSocket: string): Promise<Gate> {
  const path = join(dir, "gate.sock");
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let received = 0;
  const server = createServer((req, res) => {
    const isImage = !req.url?.startsWith("/health");
    if (isImage) received += 1;
    if (isImage && gate.mode === "hold") {
      req.resume();
      held.push(res);
      return;
    }
    if (isImage && gate.mode === "reset-first" && received === 1) {
      req.socket.destroy();
      return;
    }
    const upstream = httpRequest(
      { socketPath: backendSocket, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const gate: Gate = {
    endpoint: `unix:${path}`,
    received: () => received,
    mode: "pass",
    release() {
      gate.mode = "pass";
      for (const res of held.splice(0)) res.writeHead(503).end();
    },
    async close() {
      gate.release();
      for (const socket of sockets) socket.destroy();
      // Closing a Unix socket's server removes its file: the backend behind it is gone (ENOENT).
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return gate;
}

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await makeJpeg(320, 240);
});

const resize = () => ({ op: "resize", query: new URLSearchParams({ width: "64", height: "48" }), body: jpeg });

async function rejection(promise: Promise<unknown>): Promise<AciimgError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isAciimgError(error)) throw new Error(`expected an AciimgError, got ${String(error)}`);
  return error;
}

describe("a slow answer is not a vanished backend", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /**
   * A real local backend made by the configuration's engine, and the state pointing at a gate in
   * front of it: the engine a test then opens reaches the backend only through the gate.
   */
  async function gatedBackend(): Promise<{ config: Config; gate: Gate; record: BackendRecord }> {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-slow-"));
    const config = loadConfig(
      { provider: "local", state: join(dir, "state.json") },
      { ACIIMG_REQUEST_TIMEOUT: "300ms" },
      dir,
    );
    const provider = await openProvider(config);
    cleanups.push(async () => {
      for (const ref of await provider.list()) await provider.delete(ref);
      await rm(dir, { recursive: true, force: true });
    });
    const first = await openEngine(config);
    const { record } = await first.ensure();
    await first.close();
    const gate = await openGate(dir, record.endpoint.slice("unix:".length));
    cleanups.push(() => gate.close());
    await (await openStore(config)).update((state) => {
      (state.backends.default as BackendRecord).endpoint = gate.endpoint;
    });
    return { config, gate, record };
  }

  async function engineOf(config: Config) {
    const engine = await openEngine(config);
    cleanups.push(() => engine.close());
    return engine;
  }

  it(
    "a request the backend holds past " + "the request timeout is sent once and fails with E_REQUEST_TIMEOUT naming it",
    async () => {
      const { config, gate, record } = await gatedBackend();
      const engine = await engineOf(config);
      gate.mode = "hold";
      const error = await rejection(engine.call(resize()));
      expect(gate.received()).toBe(1);
      expect(error.code).toBe("E_REQUEST_TIMEOUT");
      expect(error.message).toContain("gave no answer to /resize within 300ms");
      expect(error.message).toContain("not sent again");
      expect(error.message).toContain(requestTimeoutAdvice);
      expect(error.detail).toEqual({ code: "UND_ERR_HEADERS_TIMEOUT", timeoutMs: 300 });
      // The backend was not taken for vanished: the next call goes to the same one and succeeds.
      gate.release();
      const response = await engine.call(resize());
      expect((await sharp(await buffer(response.body)).metadata()).width).toBe(64);
      expect(gate.received()).toBe(2);
      expect((await (await openStore(config)).read()).backends.default?.id).toBe(record.id);
    },
  );

  it("a pool member that times out stays in the pool, and the request is not sent elsewhere", async () => {
    const { config, gate } = await gatedBackend();
    const [provider, store] = await Promise.all([openProvider(config), openStore(config)]);
    const requestTimeout = { ms: config.requestTimeoutMs, advice: requestTimeoutAdvice };
    const member = createEngine({ provider, store, spec: backendSpecOf(config), poolMember: true, requestTimeout });
    const pool = createPool({ members: [{ label: "local", engine: member }], initialWindow: () => 2 });
    cleanups.push(async () => {
      await pool.close();
    });
    const signal = new AbortController().signal;
    await pool.start(signal);
    gate.mode = "hold";
    const slot = await pool.acquire(signal);
    const error = await rejection(slot.send(resize()));
    slot.release();
    expect(pool.members()).toMatchObject([{ label: "local", state: "ready" }]);
    expect(error.code).toBe("E_REQUEST_TIMEOUT");
    expect(gate.received()).toBe(1);
  });

  it("a connection broken under the request (a crash mid-image) is re-ensured and sent again", async () => {
    const { config, gate, record } = await gatedBackend();
    const engine = await engineOf(config);
    gate.mode = "reset-first";
    const response = await engine.call(resize());
    expect((await sharp(await buffer(response.body)).metadata()).width).toBe(64);
    // The broken copy and the one sent again; the re-ensure found the backend healthy and kept it.
    expect(gate.received()).toBe(2);
    expect((await (await openStore(config)).read()).backends.default?.id).toBe(record.id);
  });

  it("a backend whose socket is gone is replaced and the request sent to the new one", async () => {
    const { config, gate, record } = await gatedBackend();
    const engine = await engineOf(config);
    await gate.close();
    const response = await engine.call(resize());
    expect((await sharp(await buffer(response.body)).metadata()).width).toBe(64);
    const now = (await (await openStore(config)).read()).backends.default;
    expect(now?.id).not.toBe(record.id);
    expect(now?.endpoint).not.toBe(gate.endpoint);
  });
});
