/**
 * Reads the image of a request: the raw body, or the multipart field `file` (imaginary's
 * source_body.go, docs/reference/imaginary-api.md §1.2), with imaginary's messages. Unlike imaginary, which has
 * no limit, the body is capped: a declared Content-Length over the cap is refused before reading,
 * and a streamed body is refused as soon as it crosses the cap (413).
 */
import type { IncomingMessage } from "node:http";
import { readBoundedBody } from "../protocol/body.js";
import { readMultipartImage } from "../protocol/multipart.js";
import { messages, tooLarge, type Refusal } from "../protocol/replies.js";

export type BodyResult = { ok: true; bytes: Buffer } | Refusal;

const clientLeft = (): Refusal => ({ ok: false, status: 400, message: "client closed the request" });

/** The image bytes of `req`, at most `maxBytes`; rejects early with 413 when over. */
export async function readImageBody(req: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return tooLarge(maxBytes);
  const contentType = req.headers["content-type"] ?? "";
  if (/^multipart\//i.test(contentType)) {
    return readMultipartImage(req, {
      contentType,
      maxBytes,
      limits: { fieldSize: 1 << 20 },
      stop: signal,
      stopped: clientLeft,
    });
  }
  const read = await readBoundedBody(req, {
    maxBytes,
    stop: signal,
    ...(Number.isFinite(declared) ? { declaredBytes: declared } : {}),
  }).catch(() => undefined);
  if (read === undefined) return { ok: false, status: 400, message: messages.emptyImage };
  if (read.ok) return read;
  return read.why === "too-large" ? tooLarge(maxBytes) : clientLeft();
}
