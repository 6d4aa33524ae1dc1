/**
 * The transport of `unix:` endpoints (the local backend): node:http over the socket, one
 * keep-alive Agent per client. node:http loads in ~5 ms where undici takes ~90-140 ms, most of a
 * local `aciimg process` run's fixed start-up. It keeps what undici's Pool gave these endpoints:
 * headers and body timeouts failing with undici's codes and messages, the signal's reason as the
 * error, bodies that fail or are dropped destroying their socket instead of returning it to the pool.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { Transport, TransportRequest, TransportResponse } from "./transport.js";

export interface SocketTransportOptions {
  /** Absolute path of the backend's socket. */
  socketPath: string;
  /** Most connections open at once; further requests wait for one. */
  connections: number;
  /** How long an idle connection is kept. Default 30 s, as the undici pool's keepAliveTimeout. */
  keepAliveMs?: number;
}

/** A transport failure with undici's code and message, so client-errors.ts maps it as it maps undici's. */
class TransportError extends Error {
  constructor(
    name: string,
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = name;
  }
}

const headersTimeoutError = (): Error =>
  new TransportError("HeadersTimeoutError", "Headers Timeout Error", "UND_ERR_HEADERS_TIMEOUT");
const bodyTimeoutError = (): Error =>
  new TransportError("BodyTimeoutError", "Body Timeout Error", "UND_ERR_BODY_TIMEOUT");
const abortReason = (signal: AbortSignal): unknown =>
  signal.reason ?? new TransportError("AbortError", "Request aborted", "UND_ERR_ABORTED");

/** Creates the node:http transport of one `unix:` endpoint. */
export function createSocketTransport(options: SocketTransportOptions): Transport {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, timeout: options.keepAliveMs ?? 30_000 });
  const inFlight = new Set<Promise<void>>();
  let closed = false;
  return {
    request(request) {
      if (closed)
        return Promise.reject(new TransportError("ClientClosedError", "The client is closed", "UND_ERR_CLOSED"));
      const exchange = send(agent, options.socketPath, request);
      inFlight.add(exchange.done);
      void exchange.done.then(() => inFlight.delete(exchange.done));
      return exchange.response;
    },
    async close() {
      closed = true;
      await Promise.all(inFlight);
      agent.destroy();
    },
  };
}

/**
 * One request: `response` settles with the headers; `done` when its socket is released or destroyed (never rejects).
 */
function send(
  agent: Agent,
  socketPath: string,
  request: TransportRequest,
): { response: Promise<TransportResponse>; done: Promise<void> } {
  const { signal, body } = request;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const response = new Promise<TransportResponse>((resolve, reject) => {
    if (signal?.aborted) {
      finish();
      reject(abortReason(signal));
      return;
    }
    let req: ClientRequest;
    try {
      req = httpRequest({ socketPath, agent, method: request.method, path: request.path, headers: request.headers });
    } catch (error) {
      // A header node:http refuses (ERR_INVALID_CHAR): nothing was sent; close() must not wait for it.
      finish();
      throw error;
    }
    let res: IncomingMessage | undefined;
    const headersTimer = new Deadline(request.headersTimeout, () => req.destroy(headersTimeoutError()));
    const onAbort = (): void => {
      if (res) res.destroy(abortReason(signal as AbortSignal) as Error);
      else req.destroy(abortReason(signal as AbortSignal) as Error);
    };
    const settle = (): void => {
      headersTimer.clear();
      signal?.removeEventListener("abort", onAbort);
      finish();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    // Stays for the request's life: node:http reports a socket failing after the response here too;
    // the body has its own error by then.
    req.on("error", (error) => {
      if (res) return;
      settle();
      reject(error);
    });
    // Started when the request gets a connection, not while it waits for one (as undici's pool).
    req.once("socket", () => headersTimer.arm());
    req.once("response", (incoming) => {
      res = incoming;
      headersTimer.clear();
      watchBody(incoming, request.bodyTimeout);
      incoming.once("close", settle);
      resolve({ statusCode: incoming.statusCode ?? 0, headers: incoming.headers, body: incoming });
    });
    // Closed with neither a response nor an error (node:http reports both as a rule): fail, never hang.
    req.once("close", () => {
      if (res) return;
      settle();
      reject(new TransportError("SocketError", "other side closed", "UND_ERR_SOCKET"));
    });
    sendBody(req, body, headersTimer);
  });
  return { response, done };
}

/** Writes the body; a stream re-arms the headers deadline on each chunk, as undici's does while it uploads. */
function sendBody(req: ClientRequest, body: TransportRequest["body"], headersTimer: Deadline): void {
  if (!(body instanceof Readable)) {
    req.end(body);
    return;
  }
  body.on("data", () => headersTimer.arm());
  // A body that fails destroys the request with its error, which the request's 'error' reports (as
  // undici does; pipeline() would abort() it into a bare "socket hang up"), and its socket is not
  // reused. A request that fails or is answered early destroys what is left of the body.
  body.once("error", (error) => req.destroy(error));
  req.once("close", () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(req);
}

/**
 * Fails a body whose backend stops sending for `timeoutMs` (undici's bodyTimeout). A pause the
 * reader causes (data buffered, the socket paused for backpressure) is not the backend's: the
 * deadline waits again, as undici's does while its body is paused.
 */
function watchBody(res: IncomingMessage, timeoutMs: number): void {
  const socket: Socket = res.socket;
  const deadline = new Deadline(timeoutMs, () => {
    if (res.readableLength > 0 || socket.isPaused()) deadline.arm();
    else res.destroy(bodyTimeoutError());
  });
  const onData = (): void => deadline.arm();
  const stop = (): void => {
    deadline.clear();
    socket.off("data", onData);
  };
  socket.on("data", onData);
  res.once("end", stop);
  res.once("close", stop);
  deadline.arm();
}

/** A re-armable timer that stays cleared once cleared (a cleared Timeout's refresh() would restart it). */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private isCleared = false;
  constructor(
    private readonly timeoutMs: number,
    private readonly onExpiry: () => void,
  ) {}

  arm(): void {
    if (this.isCleared) return;
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.expire(), this.timeoutMs);
  }

  clear(): void {
    this.isCleared = true;
    clearTimeout(this.timer);
  }

  private expire(): void {
    this.timer = undefined;
    this.onExpiry();
  }
}
