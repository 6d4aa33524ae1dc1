/**
 * `aciimg serve`: the handler on node:http (node:https with a certificate). Graceful close (stop
 * accepting, let in-flight requests finish, then resolve), one access-log line per request with
 * the client's address and `?key=` removed, and concurrent requests during a cold start all
 * waiting on the engine's single-flight `ensure`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Engine } from "../engine/types.js";
import { AciimgError } from "../errors.js";
import { answerThenLinger, hasUnreadBody, lingerBounds } from "../protocol/linger.js";
import type { Dialect } from "../protocol/operations.js";
import { errorBody } from "../protocol/replies.js";
import { checkServeKey, exposureWarning } from "./exposure.js";
import { createHandler, type HandlerResponse } from "./handler.js";
import { startReaper } from "./reaper.js";
import { errorReply } from "./replies.js";

export interface HttpServerOptions {
  engine: Engine;
  /** Loopback by default; anything else exposes the API (the key still guards it). */
  host: string;
  /** 0 picks a free port (see the returned `url`). */
  port: number;
  /**
   * The key clients must send, at least 16 characters. Required: `serve` never runs open, and
   * never invents a key it would have to print (stderr ends up in logs). Typed optional so a
   * missing setting gets our E_USAGE message rather than a crash.
   */
  key: string | undefined;
  /** Serve HTTPS with this PEM certificate and key (read by the caller, once). Default: plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  maxUploadBytes: number;
  /**
   * Refuse SVGs with filters before they reach the backend (the handler's `screenSvg`).
   * @default false
   */
  screenSvg?: boolean;
  /** Whose rules requests are checked by before a backend wakes (the handler's `dialect`). Default imaginary's. */
  dialect?: Dialect;
  /** Request bodies held in memory at once, in bytes. Default: the handler's (8 uploads at the limit). */
  maxBufferedBytes?: number;
  /** An upload that does not advance by 1 KiB within this many ms gets 408. Default: the handler's (5 s). */
  bodyIdleMs?: number;
  /** One line per request and operator diagnostics; never secrets. */
  log: (line: string) => void;
  /** Longest wait for the backend's answer, cold start included. Default: the handler's (11 min). */
  timeoutMs?: number;
  /**
   * How long `close()` lets in-flight requests run before cutting them.
   * @default 30 s
   */
  closeTimeoutMs?: number;
  /**
   * Idle limit of the built-in reaper (config.idleMs).
   * @default 5 min
   */
  idleMs?: number;
  /**
   * Time between reaper passes; 0 turns the reaper off (e.g. when cron runs `aciimg reap`).
   * @default 60 s
   */
  reapEveryMs?: number;
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:8080, or https://… with `tls` */
  url: string;
  /** Stops accepting, waits for in-flight requests (bounded), then resolves. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the server; resolves once it listens. (Long for the server's lifecycle
 * in one place: listen, access log, throttle, reaper, graceful close.)
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const key = checkServeKey(options.key);
  const warning = exposureWarning(options.host, options.tls !== undefined);
  if (warning) options.log(warning);
  const handle = createHandler({
    engine: options.engine,
    key,
    maxUploadBytes: options.maxUploadBytes,
    log: options.log,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    ...(options.bodyIdleMs !== undefined ? { bodyIdleMs: options.bodyIdleMs } : {}),
    ...(options.screenSvg ? { screenSvg: true } : {}),
    ...(options.dialect ? { dialect: options.dialect } : {}),
  });
  let inFlight = 0;
  let closing: Promise<void> | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight += 1;
    const started = performance.now();
    // Read now: a socket destroyed by the time the line is written no longer tells its peer.
    const remote = req.socket.remoteAddress;
    // Once closing, each finished exchange ends its connection instead of keeping it alive.
    if (closing) res.shouldKeepAlive = false;
    void respond(req, res, handle, remote, options.log)
      .catch((error: unknown) => {
        // e.g. a header value Node refuses: nothing sensible can be sent any more.
        options.log(`response failed: ${(error as Error).message}`);
        res.destroy();
        return 0;
      })
      .then((bytes) => {
        inFlight -= 1;
        options.log(accessLine(req, remote, res.statusCode, bytes, performance.now() - started));
        if (closing) server.closeIdleConnections();
      });
  };
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createServer(onRequest);
  // A failed handshake (a scanner, a client that does not trust the certificate) is one line, not a crash.
  server.on("tlsClientError", (error: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => {
    options.log(
      `${new Date().toISOString()} ${socket.remoteAddress ?? "-"} TLS handshake failed: ${error.code ?? error.message}`,
    );
  });
  // Requests Node itself refuses (malformed, headers too large, too slow) get imaginary's JSON shape too.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, reason] =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout"]
        : error.code === "HPE_HEADER_OVERFLOW"
          ? [431, "Request Header Fields Too Large"]
          : [400, "Bad Request"];
    const body = errorBody(status, reason, "space");
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // Node's own bounds stay: receiving a request (headers 60 s, whole request 5 min) is bounded,
  // and uploads are read at once (never held back by a cold start), so they cannot run into them.
  // Inside those, a body that stops advancing is ended by the handler's own bound (bodyIdleMs).

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new AciimgError("E_USAGE", `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const reapEveryMs = options.reapEveryMs ?? 60_000;
  const reaper =
    reapEveryMs > 0
      ? startReaper({
          engine: options.engine,
          idleMs: options.idleMs ?? 5 * 60_000,
          everyMs: reapEveryMs,
          log: options.log,
        })
      : undefined;
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `${options.tls ? "https" : "http"}://${host}:${address.port}`,
    close() {
      closing ??= (async () => {
        // A reap pass in progress finishes before close resolves: the caller closes the engine next.
        const reaperStopped = reaper?.stop();
        await new Promise<void>((resolve) => {
          const deadline = setTimeout(() => server.closeAllConnections(), options.closeTimeoutMs ?? 30_000);
          server.close(() => {
            clearTimeout(deadline);
            resolve();
          });
          server.closeIdleConnections();
          if (inFlight === 0) server.closeAllConnections();
        });
        await reaperStopped;
      })();
      return closing;
    },
  };
}

async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  handle: ReturnType<typeof createHandler>,
  remoteAddress: string | undefined,
  log: (line: string) => void,
): Promise<number> {
  const gone = new AbortController();
  // 'close' on the response before it finished: the client went away; cancel the backend call.
  res.once("close", () => {
    if (!res.writableFinished) gone.abort(new Error("client closed the connection"));
  });
  let reply: HandlerResponse;
  try {
    reply = await handle({
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers,
      body: req,
      signal: gone.signal,
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
    });
  } catch (error) {
    log(`handler failed: ${(error as Error).message}`);
    reply = errorReply(500, "Internal error");
  }
  if (hasUnreadBody(req) && !(reply.body instanceof Readable)) {
    // Answered before the whole body was read (413, a refusal): the answer goes out whole, then
    // the rest of the upload is drained, bounded, so the client reads the answer and not a reset.
    const { body } = reply;
    answerThenLinger(req, res, { status: reply.status, headers: reply.headers, body }, lingerBounds, (dropped) =>
      log(
        `closed a connection still sending after its answer: ${dropped} bytes of its body dropped ` +
          `(bounds ${lingerBounds.maxBytes} bytes, ${lingerBounds.maxMs} ms)`,
      ),
    );
    await new Promise<void>((resolve) => res.once("close", resolve));
    return typeof body === "string" ? Buffer.byteLength(body) : body.length;
  }
  if (!req.complete) {
    // A streamed answer to a body not read to its end: the connection cannot be reused.
    res.shouldKeepAlive = false;
    req.resume();
  }
  res.writeHead(reply.status, reply.headers);
  let bytes = 0;
  try {
    if (reply.body instanceof Readable) {
      reply.body.on("data", (chunk: Buffer) => (bytes += chunk.length));
      await pipeline(reply.body, res);
    } else {
      bytes = typeof reply.body === "string" ? Buffer.byteLength(reply.body) : reply.body.length;
      res.end(reply.body);
    }
  } catch {
    // The client went away mid-body; pipeline has destroyed both sides.
  }
  return bytes;
}

/**
 * `2026-…Z 203.0.113.7 POST /resize?width=300 200 12ms 4521B`: the client's address, and `key` removed from the
 * query.
 */
function accessLine(
  req: IncomingMessage,
  remote: string | undefined,
  status: number,
  bytes: number,
  ms: number,
): string {
  const url = new URL(req.url ?? "/", "http://x");
  url.searchParams.delete("key");
  const query = url.searchParams.toString();
  return (
    `${new Date().toISOString()} ${remote ?? "-"} ` +
    `${req.method} ${url.pathname}${query ? `?${query}` : ""} ${status} ${Math.round(ms)}ms ${bytes}B`
  );
}
