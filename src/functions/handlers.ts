/**
 * The Functions app's two handlers, as a factory so they can be built around any engine: `process`
 * adapts an @azure/functions HttpRequest to the shared HTTP handler, `cleanup` reaps idle backends.
 * Registration (and the app's one engine) lives in index.ts.
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import type { Engine } from "../engine/types.js";
import { createHandler, type RequestHandler } from "../http/handler.js";
import { errorReply, failureReply } from "../http/replies.js";

export interface FunctionHandlersOptions {
  /** The engine; called on every invocation, so it may open lazily and should cache. */
  engine: () => Promise<Engine>;
  /**
   * An extra key clients must send (`API-Key` / `?key=`), from ACIIMG_SERVE_KEY. The host's
   * function key (authLevel "function") already guards the route; this is defence in depth.
   */
  key: string | undefined;
  maxUploadBytes: number;
  /** Refuse SVGs with filters before they reach imaginary (config.ts screensSvg). Default false. */
  screenSvg?: boolean;
  /** Idle limit for `cleanup` (config.idleMs). */
  idleMs: number;
}

export interface FunctionHandlers {
  process(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit>;
  cleanup(timer: Timer, context: InvocationContext): Promise<void>;
}

/** Builds the `process` and `cleanup` handlers around an engine. */
export function createFunctionHandlers(options: FunctionHandlersOptions): FunctionHandlers {
  const handlers = new WeakMap<Engine, RequestHandler>();
  const handlerFor = (engine: Engine): RequestHandler => {
    let handler = handlers.get(engine);
    if (!handler) {
      handler = createHandler({
        engine,
        key: options.key,
        maxUploadBytes: options.maxUploadBytes,
        screenSvg: options.screenSvg === true,
        // Azure's front end drops an HTTP trigger that takes over 230 s to answer, whatever the
        // function timeout; answer 503 + Retry-After first while the cold start carries on.
        timeoutMs: 200_000,
      });
      handlers.set(engine, handler);
    }
    return handler;
  };

  return {
    async process(request, context) {
      let engine: Engine;
      try {
        engine = await options.engine();
      } catch (error) {
        return toInit(
          failureReply(error, { retryAfterSeconds: 30, timedOut: false, log: (line) => context.error(line) }),
        );
      }
      const url = new URL(request.url);
      // `code` is the host's function key: it is for the host, never for the backend or a log.
      url.searchParams.delete("code");
      const query = url.searchParams.toString();
      const reply = await handlerFor(engine)({
        method: request.method,
        url: `/${request.params.op ?? ""}${query ? `?${query}` : ""}`,
        headers: Object.fromEntries(request.headers),
        body: request.body ? Readable.fromWeb(request.body as WebReadableStream<Uint8Array>) : Readable.from([]),
        log: (line) => context.warn(line),
      }).catch((error: unknown) => {
        context.error(`handler failed: ${(error as Error).message}`);
        return errorReply(500, "Internal error");
      });
      return toInit(reply);
    },

    async cleanup(timer, context) {
      const engine = await options.engine();
      const report = await engine.reap({ idleMs: options.idleMs });
      const removed = report.removed.map((ref) => `${ref.name} (${ref.reason})`).join(", ") || "none";
      const kept = report.kept.map((ref) => `${ref.name} (${ref.reason})`).join(", ") || "none";
      // Another state's backends (another app or person sharing the resource group) are never reaped here.
      const others = report.foreign.map((ref) => `${ref.name} (${ref.reason})`).join(", ");
      context.log(
        `cleanup${timer.isPastDue ? " (past due)" : ""}: ` +
          `removed ${removed}; kept ${kept}${others ? `; left, not ours: ${others}` : ""}`,
      );
    },
  };
}

function toInit(reply: {
  status: number;
  headers: Record<string, string>;
  body: Readable | Uint8Array | string;
}): HttpResponseInit {
  return { status: reply.status, headers: reply.headers, body: reply.body };
}
