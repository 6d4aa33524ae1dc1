/**
 * Responses in imaginary's shape: every error is `{"message","status"}` JSON (docs/reference/imaginary-api.md
 * §1.8), and an engine failure becomes the status a client can act on.
 */
import { isAciimgError, type ErrorCode } from "../errors.js";
import { errorBody } from "../protocol/replies.js";
import { formatDuration } from "../units.js";

/** A framework-neutral response; `serve` and the Functions app each write it their way. */
export interface HandlerResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: import("node:stream").Readable | Uint8Array | string;
}

/** A JSON body with its content type and length. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): HandlerResponse {
  return jsonText(status, JSON.stringify(value), headers);
}

/** imaginary's error body `{"message":"…","status":N}`, line breaks folded into spaces. */
export function errorReply(status: number, message: string, headers: Record<string, string> = {}): HandlerResponse {
  return jsonText(status, errorBody(status, message, "space"), headers);
}

function jsonText(status: number, body: string, headers: Record<string, string>): HandlerResponse {
  return {
    status,
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers },
    body,
  };
}

/** Failures of the backend's life (provisioning, reachability, cloud limits): the client should come back later. */
const unavailableCodes = new Set<ErrorCode>([
  "E_PROVISION",
  "E_BACKEND_UNREACHABLE",
  "E_TIMEOUT",
  "E_CAPACITY",
  "E_QUOTA",
  "E_IMAGE_PULL",
  "E_THROTTLED",
  "E_AZURE",
  "E_NO_CREDENTIALS",
  "E_CONFIG",
  "E_RESOURCE_GROUP_NOT_FOUND",
  "E_FORBIDDEN",
  "E_STATE",
  "E_ABORTED",
]);

export interface FailureContext {
  retryAfterSeconds: number;
  /** True when our own wait bound fired (the cold start or the backend took too long). */
  timedOut: boolean;
  log: (line: string) => void;
}

/**
 * Maps what `engine.call` threw to a response. imaginary's own errors pass through with their
 * status and message; our side's failures are logged in full for the operator and answered
 * without internals (the client sees the code, never an endpoint, key or subscription).
 */
export function failureReply(error: unknown, context: FailureContext): HandlerResponse {
  const retryAfter = { "retry-after": String(context.retryAfterSeconds) };
  if (context.timedOut) {
    context.log(`backend did not answer in time: ${describe(error)}`);
    return errorReply(503, "Timed out waiting for the image backend; retry later", retryAfter);
  }
  if (!isAciimgError(error)) {
    context.log(`unexpected error: ${describe(error)}`);
    return errorReply(500, "Internal error");
  }
  if (error.code === "E_IMAGE") {
    const status = typeof error.detail?.status === "number" ? error.detail.status : 502;
    const message = typeof error.detail?.message === "string" ? error.detail.message : error.message;
    // The backend refusing *our* key is a server fault; passing its 401 on would tell the client its key is wrong.
    if (status === 401) {
      context.log(`backend rejected the server's key: ${error.message}`);
      return errorReply(502, "The image backend rejected the server's credentials");
    }
    if (status === 429) return errorReply(429, message, { "retry-after": "1" });
    if (status >= 400 && status <= 511) return errorReply(status, message);
    context.log(`backend answered ${status}: ${error.message}`);
    return errorReply(502, "The image backend gave an invalid answer");
  }
  if (error.code === "E_BAD_INPUT" || error.code === "E_USAGE") return errorReply(400, error.message);
  context.log(`${error.code}: ${error.message}`);
  if (error.code === "E_REQUEST_TIMEOUT") {
    // The backend got the image and may still be rendering it: a gateway timeout, without
    // Retry-After, since sending it again starts another render (engine/call-retry.ts isVanished).
    const limitMs = error.detail?.timeoutMs;
    const within = typeof limitMs === "number" ? ` within ${formatDuration(limitMs)}` : "";
    return errorReply(
      504,
      `The image backend gave no answer${within} (E_REQUEST_TIMEOUT); ` +
        "the image may need a longer request timeout on the server",
    );
  }
  if (unavailableCodes.has(error.code)) {
    return errorReply(503, `The image backend is not available right now (${error.code}); retry later`, retryAfter);
  }
  return errorReply(500, `Internal error (${error.code})`);
}

function describe(error: unknown): string {
  if (isAciimgError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
