/**
 * The imaginary client's errors, mapped once at the boundary (STYLE.md "Errors"): undici's and the
 * socket's transport errors to E_BACKEND_UNREACHABLE / E_REQUEST_TIMEOUT / E_ABORTED, imaginary's
 * error bodies to E_IMAGE.
 */
import { AciimgError, isAbortError } from "../errors.js";
import { formatDuration } from "../units.js";

/**
 * Error codes of undici (lib/core/errors.js) and of the socket that mean "the backend is not there,
 * or no longer holds this request": nothing reached it (refused, no route, no name, connect timeout,
 * a client already closed), or the connection broke (reset, EPIPE, closed by the other side), which
 * ends the request on the backend's side too. The engine re-ensures and sends again on these
 * (engine/call-retry.ts).
 */
const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

/**
 * The response timeouts: the request reached a backend that has not answered (yet). It may still be
 * working on it, so these are E_REQUEST_TIMEOUT, which nothing sends again.
 */
const timeoutCodes: ReadonlySet<string> = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** The client's response timeouts, named in the error when one fires. */
export interface ResponseTimeouts {
  headersMs: number;
  bodyMs: number;
  /** What a person does to raise them (a sentence), e.g. which setting; default none. */
  advice?: string | undefined;
}

const socketUnreachableCodes: ReadonlySet<string> = new Set([...unreachableCodes, "ENOENT", "EACCES"]);

/**
 * imaginary's error bodies are `{"message","status"}` JSON (docs/reference/imaginary-api.md §1.8), except the
 * throttle's 429 `text/plain` "limit exceeded". Keep imaginary's status and message so surfaces
 * can pass them through unchanged. The message is imaginary's, without the route it came from:
 * people did not ask for "/pipeline" (the CLI's flags are one), so it would only puzzle them.
 */
export function imaginaryError(status: number, contentType: string, text: string): AciimgError {
  let message = text.trim();
  if (contentType.includes("json")) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === "string") message = parsed.message;
    } catch {
      // keep the raw text
    }
  }
  if (!message) message = `HTTP ${status}`;
  const hint =
    status === 401
      ? " (the backend rejected the API key: it is not the backend aciimg started; run `aciimg down`)"
      : status === 429
        ? " (the backend is at its concurrency limit; lower --concurrency)"
        : "";
  return new AciimgError("E_IMAGE", `${message}${hint}`, { detail: { status, message } });
}

export function emptyResponseError(endpoint: string, path: string): AciimgError {
  return new AciimgError(
    "E_BACKEND_UNREACHABLE",
    `the backend at ${endpoint} answered ${path.split("?")[0]} with an empty 200 response, ` +
      `which is never a valid result; ` +
      `it may be overloaded or broken. Check \`aciimg logs\` and retry.`,
    { detail: { status: 200, message: "empty response" } },
  );
}

/**
 * `isSocket`: connecting to a Unix socket also fails with ENOENT (no socket file: the backend is
 * gone and its file removed) and EACCES (not our socket): the backend is not there either.
 */
export function mapTransportError(
  error: unknown,
  endpoint: string,
  path: string,
  isSocket = false,
  timeouts?: ResponseTimeouts,
): AciimgError | unknown {
  if (error instanceof AciimgError) return error;
  // undici's RequestAbortedError, by its code: importing undici here would load it for every command.
  if (isAbortError(error) || (error as { code?: unknown } | undefined)?.code === "UND_ERR_ABORTED") {
    return new AciimgError("E_ABORTED", `request ${path.split("?")[0]} to ${endpoint} was cancelled`, { cause: error });
  }
  const timedOut = errorCode(error, timeoutCodes);
  if (timedOut !== undefined && timeoutCodes.has(timedOut)) {
    return timeoutError(error, { code: timedOut, endpoint, path, timeouts });
  }
  const codes = isSocket ? socketUnreachableCodes : unreachableCodes;
  const code = errorCode(error, codes);
  if (code !== undefined && codes.has(code)) {
    return new AciimgError(
      "E_BACKEND_UNREACHABLE",
      `cannot reach the backend at ${endpoint} (${code}) for ${path.split("?")[0]}`,
      { cause: error, detail: { code } },
    );
  }
  return error;
}

/** A response timeout that fired: which one, its limit, and what to do about it. */
function timeoutError(
  error: unknown,
  fired: { code: string; endpoint: string; path: string; timeouts: ResponseTimeouts | undefined },
): AciimgError {
  const { code, endpoint, path, timeouts } = fired;
  const isHeaders = code === "UND_ERR_HEADERS_TIMEOUT";
  const limitMs = isHeaders ? timeouts?.headersMs : timeouts?.bodyMs;
  const within = limitMs === undefined ? "" : ` within ${formatDuration(limitMs)}`;
  const op = path.split("?")[0];
  const what = isHeaders
    ? `gave no answer to ${op}${within}`
    : `stopped sending its answer to ${op} (nothing more came${within})`;
  return new AciimgError(
    "E_REQUEST_TIMEOUT",
    `the backend at ${endpoint} ${what}. It may still be working on it, so it was not sent again.` +
      (timeouts?.advice ? ` ${timeouts.advice}` : ""),
    { cause: error, detail: { code, ...(limitMs === undefined ? {} : { timeoutMs: limitMs }) } },
  );
}

/** The error's code, also when undici wraps a socket error as its cause. */
function errorCode(error: unknown, codes: ReadonlySet<string>): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && codes.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
