/**
 * Reads the image out of a request: the raw body, or the multipart field `file` as imaginary
 * does (imaginary-api.md §1.2). The bytes are held in memory, bounded by the upload limit, so the
 * engine can replay them if its one retry is needed; crossing the limit answers at once.
 */
import type { Readable } from "node:stream";
import busboy from "busboy";
import { refusalOf } from "./body-watch.js";
import { startRelay } from "./relay.js";

/** An upload refused: imaginary's status and message (plus headers such as Retry-After). */
export type Refusal = { ok: false; status: number; message: string; headers?: Record<string, string> };

export type Upload =
  | { ok: true; bytes: Uint8Array; contentType: string }
  | Refusal;

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
    if (declared === 0) return { ok: false, status: 400, message: "Empty or unreadable image" };
    const relay = await startRelay(body, declared, stop ? { stop } : {});
    if (!relay.ok) return relay;
    const { upload } = relay;
    return { ok: true, body: () => upload.open(), prefix: upload.prefix, contentType: "application/octet-stream", discard: () => upload.discard() };
  }
  const upload = await readUpload(body, headers.contentType, maxBytes, stop);
  if (!upload.ok) return upload;
  return { ok: true, body: upload.bytes, prefix: upload.bytes, contentType: upload.contentType, discard: () => {} };
}

/** Multipart framing (boundaries, part headers) allowed on top of the image itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

const tooLarge = (maxBytes: number): Refusal => ({
  ok: false,
  status: 413,
  message: `Request body too large: the limit is ${maxBytes} bytes`,
});

/**
 * Reads the upload; fails with imaginary's status and message (400 empty, 413 too large, …), or
 * with the refusal `stop` aborts with.
 */
export async function readUpload(body: Readable, contentType: string | undefined, maxBytes: number, stop?: AbortSignal): Promise<Upload> {
  const upload = /^multipart\//i.test(contentType ?? "")
    ? await readMultipart(body, contentType as string, maxBytes, stop)
    : await readRaw(body, maxBytes, stop);
  if (upload.ok && upload.bytes.length === 0) return { ok: false, status: 400, message: "Empty or unreadable image" };
  return upload;
}

/**
 * Collects `stream` until it ends or `maxBytes` is crossed (or `refused` aborts). On crossing it
 * stops listening and pauses, but does not destroy: the caller still answers 413 on the same
 * connection.
 */
function collect(stream: Readable, maxBytes: number, refused?: AbortSignal): Promise<Uint8Array | "too-large" | Refusal> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      refused?.removeEventListener("abort", onRefused);
    };
    const onRefused = () => {
      stop();
      stream.pause();
      chunks.length = 0;
      resolve(refusalOf(refused?.reason) ?? { ok: false, status: 400, message: "Empty or unreadable image" });
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > maxBytes) {
        stop();
        stream.pause();
        resolve("too-large");
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    if (refused?.aborted) onRefused();
    else refused?.addEventListener("abort", onRefused, { once: true });
  });
}

async function readRaw(body: Readable, maxBytes: number, stop?: AbortSignal): Promise<Upload> {
  const bytes = await collect(body, maxBytes, stop);
  if (bytes === "too-large") return tooLarge(maxBytes);
  if (!(bytes instanceof Uint8Array)) return bytes;
  return { ok: true, bytes, contentType: "application/octet-stream" };
}

function readMultipart(body: Readable, contentType: string, maxBytes: number, stop?: AbortSignal): Promise<Upload> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: { "content-type": contentType }, limits: { files: 1, fileSize: maxBytes, fields: 32, parts: 64 } });
  } catch {
    return Promise.resolve({ ok: false, status: 400, message: "no multipart boundary param in Content-Type" });
  }
  return new Promise<Upload>((resolve) => {
    let settled = false;
    let file: Promise<Upload> | undefined;
    let received = 0;
    const onRefused = () => settle(refusalOf(stop?.reason) ?? { ok: false, status: 400, message: "multipart: NextPart: EOF" });
    const settle = (upload: Upload) => {
      if (settled) return;
      settled = true;
      stop?.removeEventListener("abort", onRefused);
      body.off("data", count);
      body.unpipe(parser);
      body.pause();
      resolve(upload);
    };
    // The whole request is bounded too, not only the file: fields and other parts cost memory.
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes + MULTIPART_OVERHEAD_BYTES) settle(tooLarge(maxBytes));
    };
    parser.on("file", (name, stream, info) => {
      if (name !== "file" || file !== undefined) {
        stream.resume();
        return;
      }
      let truncated = false;
      stream.once("limit", () => {
        truncated = true;
        settle(tooLarge(maxBytes));
      });
      file = collect(stream, maxBytes).then((bytes): Upload =>
        bytes === "too-large" || truncated ? tooLarge(maxBytes)
        : bytes instanceof Uint8Array ? { ok: true, bytes, contentType: info.mimeType || "application/octet-stream" }
        : bytes,
      );
    });
    parser.once("close", () => {
      if (file === undefined) settle({ ok: false, status: 400, message: "http: no such file" });
      else void file.then(settle, () => settle({ ok: false, status: 400, message: "multipart: NextPart: EOF" }));
    });
    parser.once("error", () => settle({ ok: false, status: 400, message: "multipart: NextPart: EOF" }));
    body.once("error", () => settle({ ok: false, status: 400, message: "multipart: NextPart: EOF" }));
    body.on("data", count);
    body.pipe(parser);
    if (stop?.aborted) onRefused();
    else stop?.addEventListener("abort", onRefused, { once: true });
  });
}
