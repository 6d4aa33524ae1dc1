/**
 * The built-in imaginary-compatible backend: a node:http server (node:https when given a
 * certificate, as imaginary's -certfile/-keyfile) on sharp (libvips) that answers imaginary's
 * routes, statuses and messages (docs/reference/imaginary-api.md §1). Started by `aciimg backend` or imported.
 * Differences from imaginary are deliberate and listed in docs/formats.md.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { AciimgError } from "../errors.js";
import { keyChecker } from "../protocol/auth.js";
import { lingerBounds } from "../protocol/linger.js";
import { openMount } from "./mount.js";
import { createBufferPool } from "./buffers.js";
import { createHandle, sendError } from "./routes.js";
import { createSlots } from "./slots.js";
import { listenOnSocket } from "./socket.js";
import { createStatusSource } from "./status.js";
import { logAccess, logHandshakeErrors } from "./access-log.js";

export interface BackendOptions {
  /** Key every request must present (`API-Key` header or `?key=`). Required, non-empty. */
  apiKey: string;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 = random. Default 0. */
  port?: number;
  /**
   * Listen on this Unix domain socket instead of host:port: created 0600, a dead socket left
   * there is replaced, anything else is refused (socket.ts). The local provider's choice.
   */
  socketPath?: string;
  /** Largest request body in bytes. Default 20e6. */
  maxUploadBytes?: number;
  /** Largest input resolution in megapixels (w·h/1e6), like imaginary's -max-allowed-resolution. Default 18. */
  maxResolutionMP?: number;
  /**
   * Largest output, zoom intermediate or text watermark render in megapixels; a blur may do the
   * work of a 200-tap kernel over this many (src/backend/plan.ts). Default 4 × maxResolutionMP.
   */
  maxOutputMP?: number;
  /**
   * Longest time one request's image work may take, from its work slot to its answer, in ms: past
   * it the work is stopped (an SVG's render process killed, sharp's timeout for the rest), the slot
   * freed and the answer is 422 (deadline.ts). At most 1 h. Default 60 s: imaginary's own
   * -http-write-timeout, and 4× what the heaviest operation on an 18 MP photo took on 2 busy CPUs
   * (enlarge to 72 MP, blur, PNG: 15 s, 6 s of CPU).
   */
  maxRenderTimeMs?: number;
  /** Environment of the SVG render processes (svg-render.ts). Default: this process's. */
  renderEnv?: NodeJS.ProcessEnv;
  /** CPUs the backend may use. Default os.availableParallelism(). */
  cpus?: number;
  /**
   * Images processed at once, one libvips thread each; the rest wait. Default 2 per CPU: an
   * image holds its slot through phases that use no CPU (parsing, handing the result back), and
   * with only one image per CPU those left a CPU idle (bench/backend.mjs at 4 clients on 2 CPUs;
   * docs/benchmarks.md).
   */
  concurrency?: number;
  /**
   * Serve HTTPS with this certificate and key (PEM) instead of plain HTTP, as imaginary does with
   * -certfile/-keyfile. Default: plain HTTP.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Serve imaginary's local file source (its -mount): `GET /<op>?file=<path under this directory>`.
   * Refused at start when missing, not a directory or `/`. Default: none, GET on image routes is 405.
   */
  mount?: string;
  /**
   * Accept `/` as `mount`, which imaginary refuses: only for the local provider's backend, which
   * runs as its owner (who can read those files anyway) and is reachable only through `socketPath`
   * (0600, in the owner's 0700 directory) with its key. Refused without `socketPath`: over TCP it
   * would hand every readable file to whoever holds the key. Default false.
   */
  allowRootMount?: boolean;
  /**
   * Told when a request other than the index and /health starts and when its response closes:
   * what an idle stop counts as work (`aciimg backend --idle-exit`). Probes never keep it alive.
   */
  onWork?: { start(): void; end(): void };
  /**
   * Log sink, one line per request (imaginary's format, key
   * redacted) and per failed TLS handshake (Go's net/http format).
   */
  log?: (line: string) => void;
}

export interface RunningBackend {
  /** `http://host:port`, `https://host:port` when serving TLS, or `unix:/path.sock` (the client's endpoint form). */
  url: string;
  /** The TCP port; 0 on a socket. */
  port: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** The index and /health: asked by status and health waits, not work. */
function isProbe(url: string | undefined): boolean {
  const path = (url ?? "/").split("?", 1)[0];
  return path === "/" || path === "/health";
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * Starts the backend; resolves once it listens. Refuses an empty key.
 * (Long for its options, each resolved in a line or two before listen.)
 */
export async function startBackend(options: BackendOptions): Promise<RunningBackend> {
  if (!options.apiKey)
    throw new AciimgError(
      "E_USAGE",
      "aciimg backend: an API key is required (--key or ACIIMG_BACKEND_KEY); refusing to serve without one",
    );
  // The client speaks plain HTTP over a socket (unix: endpoints); the socket's file mode is its protection.
  if (options.tls && options.socketPath !== undefined)
    throw new AciimgError(
      "E_USAGE",
      "aciimg backend: --socket serves plain HTTP; it cannot be combined with --tls-cert/--tls-key",
    );
  const cpus = Math.max(1, Math.round(options.cpus ?? availableParallelism()));
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 2 * cpus));
  if (options.allowRootMount && options.socketPath === undefined)
    throw new AciimgError(
      "E_USAGE",
      "aciimg backend: a mount of / (ACIIMG_BACKEND_MOUNT_ROOT=1) " +
        "needs --socket: it is only for a backend reachable through its owner's socket",
    );
  const mount =
    options.mount === undefined ? undefined : await openMount(options.mount, options.allowRootMount === true);
  const maxResolutionMP = options.maxResolutionMP ?? 18;
  const limits = {
    maxUploadBytes: options.maxUploadBytes ?? 20e6,
    maxResolutionMP,
    maxOutputPixels: (options.maxOutputMP ?? 4 * maxResolutionMP) * 1e6,
    maxRenderTimeMs: Math.min(options.maxRenderTimeMs ?? 60_000, 3_600_000),
  };
  // Process-wide libvips settings: one libvips thread per image when at least one image per CPU
  // runs at once (as bimg does with VIPS_CONCURRENCY=1), and no operation cache, whose retained
  // images would make memory grow with traffic (imaginary #198).
  sharp.concurrency(Math.max(1, Math.floor(cpus / concurrency)));
  sharp.cache(false);

  const redact = (uri: string): string =>
    uri
      .replace(/([?&]key=)[^&]*/gi, "$1REDACTED")
      .split(options.apiKey)
      .join("REDACTED");

  // Two gates: `intake` bounds the request bodies held in memory (reading overlaps processing,
  // so uploads do not leave libvips idle); `slots` bounds the images libvips works on at once.
  const slots = { intake: createSlots(2 * concurrency), work: createSlots(concurrency) };
  // One reusable buffer per intake slot for mounted files (buffers.ts).
  const buffers = createBufferPool(2 * concurrency);
  const status = createStatusSource(packageVersion());

  // A client still sending past the bounds of a lingering refusal is cut off; the operator hears of it.
  const { log } = options;
  const onCut =
    log &&
    ((dropped: number): void =>
      log(
        `closed a connection still sending after its answer: ${dropped} bytes of its body dropped ` +
          `(bounds ${lingerBounds.maxBytes} bytes, ${lingerBounds.maxMs} ms)`,
      ));
  const refuse: typeof sendError = (res, status, message, headers = {}) =>
    sendError(res, status, message, headers, onCut);
  const handle = createHandle({
    isKey: keyChecker(options.apiKey),
    slots,
    buffers,
    limits,
    status,
    refuse,
    ...(mount ? { mount } : {}),
    ...(options.renderEnv ? { renderEnv: options.renderEnv } : {}),
  });

  // Responses in flight, so close() can ask their connections not to linger as keep-alive.
  const inflight = new Set<ServerResponse>();
  let closing = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    inflight.add(res);
    res.on("close", () => {
      inflight.delete(res);
      if (closing && inflight.size === 0) server.closeAllConnections();
    });
    if (closing) res.setHeader("Connection", "close");
    if (options.onWork && !isProbe(req.url)) {
      const work = options.onWork;
      work.start();
      res.once("close", () => work.end());
    }
    if (options.log) logAccess(req, res, started, options.log, redact);
    handle(req, res).catch((error: unknown) => {
      refuse(res, 500, `Internal error: ${error instanceof Error ? error.message : String(error)}`);
    });
  };
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createServer(onRequest);
  if (options.tls && options.log) logHandshakeErrors(server, options.log);
  server.headersTimeout = 60_000;
  server.requestTimeout = 120_000;

  try {
    await listen(server, options);
  } catch (error) {
    status.stop();
    throw error;
  }
  const port = options.socketPath === undefined ? (server.address() as AddressInfo).port : 0;
  const host = options.host ?? "127.0.0.1";
  return {
    url:
      options.socketPath !== undefined
        ? `unix:${options.socketPath}`
        : `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        status.stop();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Every response is done: what is left are keep-alive sockets, which need not linger.
        if (inflight.size === 0) server.closeAllConnections();
        for (const res of inflight) {
          if (!res.headersSent) res.setHeader("Connection", "close");
        }
      }),
  };
}

/** Listens on the Unix socket, else on host:port (default 127.0.0.1 and a free port). */
async function listen(server: HttpServer | HttpsServer, options: BackendOptions): Promise<void> {
  if (options.socketPath !== undefined) {
    await listenOnSocket(server, options.socketPath);
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  }
}
