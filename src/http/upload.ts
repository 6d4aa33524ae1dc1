/**
 * Reads the image out of a request: the raw body, or the multipart field `file` as imaginary
 * does (docs/reference/imaginary-api.md §1.2). The bytes are held in memory, bounded by the upload limit, so the
 * engine can replay them if its one retry is needed; crossing the limit answers at once.
 */
import type { Readable } from "node:stream";
import { readBoundedBody } from "../protocol/body.js";
import { readMultipartImage, unreadableMultipart } from "../protocol/multipart.js";
import { messages, tooLarge, type Refusal } from "../protocol/replies.js";
import { refusalOf } from "./body-watch.js";
import { startRelay } from "./relay.js";

export type { Refusal } from "../protocol/replies.js";

export type Upload = { ok: true; bytes: Uint8Array; contentType: string } | Refusal;

/** The image as the engine takes it, with its first bytes for sniffing. */
export type Image =
  | { ok: true; body: Uint8Array | (() => Readable); prefix: Uint8Array; contentType: string; discard(): void }
  | Refusal;

/**
 * The request's image. A raw body of declared length is relayed (streamed on while it arrives);
 * a multipart or chunked one is read whole first, because only then is its size known, and a
 * request over the limit must be refused before it can wake a backend. `stop` (a body watch's
 * signal) cuts the reading short with the refusal it carries.
 */
export async function acquireImage(
  body: Readable,
  headers: { contentType?: string; contentLength?: string },
  maxBytes: number,
  stop?: AbortSignal,
): Promise<Image> {
  const declared = headers.contentLength === undefined ? Number.NaN : Number(headers.contentLength);
  const isMultipart = /^multipart\//i.test(headers.contentType ?? "");
  if (!isMultipart && Number.isSafeInteger(declared) && declared >= 0) {
    if (declared > maxBytes) return tooLarge(maxBytes);
    if (declared === 0) return { ok: false, status: 400, message: messages.emptyImage };
    const relay = await startRelay(body, declared, stop ? { stop } : {});
    if (!relay.ok) return relay;
    const { upload } = relay;
    return {
      ok: true,
      body: () => upload.open(),
      prefix: upload.prefix,
      contentType: "application/octet-stream",
      discard: () => upload.discard(),
    };
  }
  const upload = await readUpload(body, headers.contentType, maxBytes, stop);
  if (!upload.ok) return upload;
  // Never the part's own Content-Type: a client's "multipart/…" there made the backend parse the
  // image as a multipart body again. The backend sniffs the format anyway.
  const contentType = "application/octet-stream";
  return { ok: true, body: upload.bytes, prefix: upload.bytes, contentType, discard: () => {} };
}

/**
 * Reads the upload; fails with imaginary's status and message (400 empty, 413 too large, …), or
 * with the refusal `stop` aborts with.
 */
export async function readUpload(
  body: Readable,
  contentType: string | undefined,
  maxBytes: number,
  stop?: AbortSignal,
): Promise<Upload> {
  const upload = /^multipart\//i.test(contentType ?? "")
    ? await readMultipartImage(body, {
        contentType: contentType as string,
        maxBytes,
        limits: { files: 1, fields: 32, parts: 64 },
        ...(stop ? { stop } : {}),
        stopped: (reason) => refusalOf(reason) ?? unreadableMultipart(),
      })
    : await readRaw(body, maxBytes, stop);
  if (upload.ok && upload.bytes.length === 0) return { ok: false, status: 400, message: messages.emptyImage };
  return upload;
}

/** A stream error rejects (answered 500 by the server), as before the reader was shared. */
async function readRaw(body: Readable, maxBytes: number, stop?: AbortSignal): Promise<Upload> {
  const read = await readBoundedBody(body, { maxBytes, ...(stop ? { stop } : {}) });
  if (read.ok) return { ok: true, bytes: read.bytes, contentType: "application/octet-stream" };
  if (read.why === "too-large") return tooLarge(maxBytes);
  return refusalOf(read.reason) ?? { ok: false, status: 400, message: messages.emptyImage };
}
