/**
 * Reads the image of a request: the raw body, or the multipart field `file` (imaginary's
 * source_body.go, imaginary-api.md §1.2), with imaginary's messages. Unlike imaginary, which has
 * no limit, the body is capped: a declared Content-Length over the cap is refused before reading,
 * and a streamed body is refused as soon as it crosses the cap (413).
 */
import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import type { Rejection } from "../imaginary/operations.js";

export type BodyResult = { ok: true; bytes: Buffer } | Rejection;

const tooLarge = (max: number): Rejection => ({ ok: false, status: 413, message: `Request body too large: the limit is ${max} bytes` });
const bad = (message: string): Rejection => ({ ok: false, status: 400, message });

/** The image bytes of `req`, at most `maxBytes`; rejects early with 413 when over. */
export function readImageBody(req: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(tooLarge(maxBytes));
  const contentType = req.headers["content-type"] ?? "";
  if (/^multipart\//i.test(contentType)) return readMultipart(req, maxBytes, signal);
  return readRaw(req, maxBytes, Number.isFinite(declared) ? declared : undefined, signal);
}

function readRaw(req: IncomingMessage, maxBytes: number, declared: number | undefined, signal: AbortSignal): Promise<BodyResult> {
  return new Promise((resolve) => {
    // With a declared length the chunks go straight into one buffer: no second copy of the
    // image, and less garbage per request (Node's HTTP parser enforces the length).
    const into = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: BodyResult): void => {
      req.off("data", onData); req.off("end", onEnd); req.off("error", onError); signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) { req.pause(); done(tooLarge(maxBytes)); return; }
      if (into && size <= into.length) chunk.copy(into, size - chunk.length);
      else chunks.push(chunk);
    };
    const onEnd = (): void => done({ ok: true, bytes: into ? into.subarray(0, size) : Buffer.concat(chunks, size) });
    const onError = (): void => done(bad("Empty or unreadable image"));
    const onAbort = (): void => done(bad("client closed the request"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function readMultipart(req: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<BodyResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.unpipe();
      if (result.ok === false && result.status === 413) req.pause();
      resolve(result);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, fieldSize: 1 << 20 } });
    } catch {
      done(bad("no multipart boundary param in Content-Type"));
      req.resume();
      return;
    }
    let image: Buffer | undefined;
    parser.on("file", (name, stream) => {
      if (name !== "file" || image !== undefined) { stream.resume(); return; }
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("limit", () => done(tooLarge(maxBytes)));
      stream.on("end", () => { image = Buffer.concat(chunks); });
    });
    parser.on("error", () => done(bad("multipart: NextPart: EOF")));
    parser.on("close", () => done(image === undefined ? bad("http: no such file") : { ok: true, bytes: image }));
    signal.addEventListener("abort", () => done(bad("client closed the request")), { once: true });
    // The whole multipart body counts against the cap, not only the file part.
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes + 64 * 1024) done(tooLarge(maxBytes));
    });
    req.pipe(parser);
  });
}
