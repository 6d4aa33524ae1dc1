/**
 * The one HTTP request handler (DESIGN.md §2), framework-neutral: `aciimg serve` adapts node:http
 * to it, the Functions app adapts HttpRequest. imaginary's routes and error bodies
 * (docs/reference/imaginary-api.md §1), with everything checkable checked before a backend is woken.
 */
import type { Readable } from "node:stream";
import type { Engine } from "../engine/types.js";
import {
  isOperationName,
  operationNames,
  validateRequest,
  type Dialect,
  type OperationName,
} from "../protocol/operations.js";
import { keyChecker, presentedKey } from "../protocol/auth.js";
import { messages, refusedMethod } from "../protocol/replies.js";
import { errorReply, failureReply, jsonReply, type HandlerResponse } from "./replies.js";
import { detectFormat } from "../protocol/formats.js";
import { flattenedHeader, framesHeader } from "../protocol/frames.js";
import { refusalOf, watchBody } from "./body-watch.js";
import { createKeyThrottle } from "./key-throttle.js";
import { settleWithin } from "./settle-within.js";
import { svgRefusal } from "./svg-refusal.js";
import { acquireImage } from "./upload.js";
import { createUploadBudget } from "./upload-budget.js";

export type { HandlerResponse } from "./replies.js";

export interface HandlerRequest {
  method: string;
  /** Path and query, e.g. "/resize?width=300". */
  url: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Readable;
  /** Aborts when the client goes away: the request stops waiting (the backend's work is not cancelled). */
  signal?: AbortSignal;
  /** Diagnostics of this request (e.g. its Functions invocation log); default: the handler's `log`. */
  log?: (line: string) => void;
  /**
   * The client's address, as the socket shows it. Wrong keys are throttled per address; without
   * one (Functions, where the host's function key guards the route) they are not.
   */
  remoteAddress?: string;
}

export interface HandlerOptions {
  engine: Engine;
  /**
   * The key clients send (`API-Key` header or `?key=`). Undefined only where the host
   * authenticates every request itself (Functions with authLevel "function").
   */
  key: string | undefined;
  /** Largest accepted image, in bytes; crossing it answers 413 at once. */
  maxUploadBytes: number;
  /**
   * Request bodies held in memory at once, in bytes (each is kept until the backend answers, for
   * the engine's replay). Bytes are counted as they arrive, not as declared. A request whose
   * declared length does not fit in what is free now gets 503 + Retry-After before its body is
   * read; one that crosses the bound while arriving gets it then. Default: 8 uploads at the limit.
   */
  maxBufferedBytes?: number;
  /**
   * An upload must advance by 1 KiB (or end) within this many milliseconds, else 408: a silent or
   * trickling client cannot hold a request open. Default 5000.
   */
  bodyIdleMs?: number;
  /**
   * Longest wait for the backend's answer, a cold start included,
   * before a 503. Default 11 min (ACI's 10-min create bound + work).
   */
  timeoutMs?: number;
  /**
   * Seconds in `Retry-After` of a 503.
   * @default 30
   */
  retryAfterSeconds?: number;
  /**
   * Refuse SVG uploads with filters, or what could hide them, before a backend sees them (400):
   * for imaginary, which cannot stop a render (src/protocol/svg-screen.ts). Default false.
   */
  screenSvg?: boolean;
  /**
   * Whose rules a request is checked by before a backend wakes (protocol/params.ts): imaginary's,
   * or, when the engine's backends are all the built-in one (the local provider), its superset,
   * so `type=avif` reaches it. Default "imaginary".
   */
  dialect?: Dialect;
  /** Operator diagnostics for 5xx answers (never secrets). Default: none. */
  log?: (line: string) => void;
  /**
   * Milliseconds clock for /health's uptime.
   * @default Date.now
   */
  now?: () => number;
}

export type RequestHandler = (request: HandlerRequest) => Promise<HandlerResponse>;

/**
 * Creates the handler. It holds no state of its own beyond the engine it is given. (Long for one request's
 * path, in the order imaginary checks a request: method, key, params, body, relay; each step a few lines.)
 */
export function createHandler(options: HandlerOptions): RequestHandler {
  const { engine, maxUploadBytes } = options;
  const timeoutMs = options.timeoutMs ?? 11 * 60_000;
  const retryAfterSeconds = options.retryAfterSeconds ?? 30;
  const defaultLog = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  const startedAt = now();
  const isAuthorized = options.key === undefined ? () => true : keyChecker(options.key);
  const budget = createUploadBudget(options.maxBufferedBytes ?? 8 * maxUploadBytes);
  const bodyIdleMs = options.bodyIdleMs ?? 5000;
  const throttle = createKeyThrottle({ now });

  return async (request) => {
    const log = request.log ?? defaultLog;
    const method = request.method.toUpperCase();
    const url = new URL(request.url, "http://aciimg.invalid");
    const path = url.pathname;
    const op = path.slice(1);

    const refused = refusedMethod(method, isOperationName(op));
    if (refused) return errorReply(refused.status, refused.message);
    // A liveness probe of this server, not of the backend: it never wakes one and shows nothing private.
    if (path === "/health") return jsonReply(200, { status: "ok", uptime: Math.floor((now() - startedAt) / 1000) });
    if (options.key !== undefined && request.remoteAddress !== undefined) {
      // Checked before the key: a throttled address learns nothing about the key it sends.
      const waitMs = throttle.waitMs(request.remoteAddress);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        return errorReply(429, `Too many requests with a wrong API key from this address; retry in ${seconds} s`, {
          "retry-after": String(seconds),
        });
      }
    }
    if (!isAuthorized(presentedKey(request.headers["api-key"], url.searchParams))) {
      if (request.remoteAddress !== undefined) throttle.failed(request.remoteAddress);
      return errorReply(401, messages.badKey);
    }
    if (path === "/") return jsonReply(200, { name: "aciimg", operations: operationNames });
    if (path === "/status") return statusReply(engine, request.signal, log);
    if (!isOperationName(op)) return errorReply(404, messages.notFound);
    // The backend refuses it too: it fetches a URL given by the client (SSRF; docs/reference/imaginary-api.md §1.2).
    if (op === "watermarkimage") return errorReply(501, messages.notImplemented);

    // A body that cannot fit in what is free now is refused unread. Nothing is reserved for it
    // yet: the budget holds bytes as they arrive (./body-watch.ts), not as declared.
    const declared = Number(header(request, "content-length"));
    if (Number.isSafeInteger(declared) && declared <= maxUploadBytes && declared > budget.available()) {
      return errorReply(503, "Too many uploads in progress; retry shortly", { "retry-after": "1" });
    }
    const reservation = budget.open();
    // Attached in the same tick as the reader in acquireImage: its listener sets the body flowing.
    const watch = watchBody(request.body, { idleMs: bodyIdleMs, reserve: (bytes) => reservation.grow(bytes) });
    // A refused body's bytes are dropped at once (the relay lets go of them), so is its share.
    watch.signal.addEventListener("abort", () => reservation.release(), { once: true });
    const release = () => {
      watch.stop();
      reservation.release();
    };
    let releaseWhenSettled: Promise<unknown> | undefined;
    try {
      return await processImage(op, url, request, watch.signal, log, (pending) => {
        releaseWhenSettled = pending;
      });
    } finally {
      // An abandoned call still holds its body until the engine lets go of it.
      if (releaseWhenSettled) void releaseWhenSettled.finally(release);
      else release();
    }
  };

  async function processImage(
    op: OperationName,
    url: URL,
    request: HandlerRequest,
    bodyRefused: AbortSignal,
    log: (line: string) => void,
    holdUntil: (pending: Promise<unknown>) => void,
  ): Promise<HandlerResponse> {
    // imaginary's order (§1.3): the body, then its format, then the params.
    const image = await acquireImage(
      request.body,
      { contentType: header(request, "content-type"), contentLength: header(request, "content-length") },
      maxUploadBytes,
      bodyRefused,
    );
    if (!image.ok) return errorReply(image.status, image.message, image.headers);
    const query = new URLSearchParams(url.searchParams);
    // Our key is for us; the engine sends the backend its own.
    query.delete("key");
    const checked = validateRequest(op, query, options.dialect);
    // Every format imaginary may load passes (the real one in ACI can have PDF and HEIF loaders);
    // the backend makes the final decision.
    const refusal =
      detectFormat(image.prefix) === undefined
        ? errorReply(406, messages.unsupportedMediaType)
        : checked.ok
          ? await svgRefusal(image, options.screenSvg === true)
          : errorReply(checked.status, checked.message);
    if (refusal) {
      image.discard();
      return refusal;
    }

    // No signal goes into the engine: its ensure is shared by every request waiting on a cold
    // start, and one client leaving (or one request's bound firing) must not cancel the
    // provisioning the others wait for. A request that gives up stops waiting; the work goes on,
    // so a retry after Retry-After finds the backend ready.
    const accept = header(request, "accept");
    const pending = engine.call({
      op,
      query,
      body: image.body,
      contentType: image.contentType,
      ...(accept ? { accept } : {}),
    });
    // The rest of a relayed body may still be arriving: a refusal of it (too slow, over the
    // budget) answers at once, even while the engine waits for a cold start.
    const outcome = await settleWithin(pending, timeoutMs, [request.signal, bodyRefused]);
    // Abandoned: whatever arrives later is dropped, so its connection returns to the pool.
    const abandon = () =>
      holdUntil(
        pending.then(
          (late) => late.body.destroy(),
          () => undefined,
        ),
      );
    const cutShort = refusalOf(bodyRefused.reason);
    if (cutShort) {
      abandon();
      return errorReply(cutShort.status, cutShort.message, cutShort.headers);
    }
    if (outcome.kind === "answer") {
      const result = outcome.value;
      return { status: result.status, headers: passThroughHeaders(result.headers), body: result.body };
    }
    if (outcome.kind === "failed") return failureReply(outcome.error, { retryAfterSeconds, timedOut: false, log });
    abandon();
    return failureReply(new Error(outcome.why), { retryAfterSeconds, timedOut: true, log });
  }
}

/**
 * Response headers worth passing on from the backend (docs/reference/imaginary-api.md §1.7), and what the
 * built-in backend says of an animation's frames (frames.ts); not its `Server`.
 */
const passedHeaders = [
  "content-type",
  "content-length",
  "image-width",
  "image-height",
  "vary",
  framesHeader,
  flattenedHeader,
];

function passThroughHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of passedHeaders) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function header(request: HandlerRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function statusReply(
  engine: Engine,
  signal: AbortSignal | undefined,
  log: (line: string) => void,
): Promise<HandlerResponse> {
  try {
    const { apiKey: _never, ...report } = await engine.status(signal ? { signal } : {});
    return jsonReply(200, report);
  } catch (error) {
    return failureReply(error, { retryAfterSeconds: 5, timedOut: false, log });
  }
}
