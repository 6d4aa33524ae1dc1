/**
 * What imaginary answers when it refuses a request (docs/reference/imaginary-api.md §1.8), written once for the
 * two servers that speak its protocol: `serve` (src/http) and the built-in backend (src/backend).
 */

/** A request refused: imaginary's status and message, plus headers such as Retry-After. */
export type Refusal = { ok: false; status: number; message: string; headers?: Record<string, string> };

/** imaginary's messages, word for word: clients match on them. */
export const messages = {
  /** Any method but GET and POST (§1.3). */
  methodNotAllowed: "HTTP method not allowed. Try with a POST or GET method (-enable-url-source flag must be defined)",
  /**
   * GET on an image route without a source for it: neither server
   * fetches URLs; only the backend reads files, with a mount.
   */
  getNotAllowed: "GET method not allowed. Make sure remote URL source is enabled by using the flag: -enable-url-source",
  badKey: "Invalid or missing API key",
  notFound: "Not found",
  /** `/watermarkimage` fetches a URL given by the client (SSRF; §1.2). */
  notImplemented: "Not implemented endpoint",
  unsupportedMediaType: "Unsupported media type",
  emptyImage: "Empty or unreadable image",
  /** GET on an image route, GETs allowed, but no `file` (§1.2). */
  missingSource: "Cannot process the image due to missing or invalid params",
  /** `file` outside the mount, missing or unreadable (§1.8). */
  invalidFilePath: "Invalid file path",
} as const;

/**
 * How line breaks in a message are written: `"strip"` drops `\n` as imaginary's error.go does (the
 * backend mirrors it); `"space"` folds each run of `\r`/`\n` into one space (`serve`, whose
 * messages may come from the backend or the engine).
 */
export type LineBreaks = "strip" | "space";

/** imaginary's error body: `{"message":"…","status":N}`. */
export function errorBody(status: number, message: string, lineBreaks: LineBreaks): string {
  const text = lineBreaks === "strip" ? message.replace(/\n/g, "") : message.replace(/[\r\n]+/g, " ");
  return JSON.stringify({ message: text, status });
}

/**
 * 405 for a method imaginary refuses (§1.3), or undefined when the method may go on. GET on an
 * image route needs a source for it (imaginary's -mount or -enable-url-source): `hasGetSource`.
 */
export function refusedMethod(method: string, isImageRoute: boolean, hasGetSource = false): Refusal | undefined {
  if (isImageRoute && method === "GET" && !hasGetSource)
    return { ok: false, status: 405, message: messages.getNotAllowed };
  if (method !== "GET" && method !== "POST") return { ok: false, status: 405, message: messages.methodNotAllowed };
  return undefined;
}

/** 413 for a body over `maxBytes` (imaginary has no limit; both our servers do). */
export function tooLarge(maxBytes: number): Refusal {
  return { ok: false, status: 413, message: `Request body too large: the limit is ${maxBytes} bytes` };
}
