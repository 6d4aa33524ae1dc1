/**
 * The image of a multipart request: the field `file`, as imaginary's source_body.go reads it
 * (docs/reference/imaginary-api.md §1.2), with its messages. Unlike imaginary, the whole request is bounded.
 */
import type { Readable } from "node:stream";
import busboy from "busboy";
import { readBoundedBody } from "./body.js";
import { tooLarge, type Refusal } from "./replies.js";

export type MultipartImage = { ok: true; bytes: Buffer; contentType: string } | Refusal;

export interface MultipartImageOptions {
  /** The request's Content-Type, with its boundary. */
  contentType: string;
  /** Largest image; the request may carry 64 KiB of framing and fields on top. */
  maxBytes: number;
  /** busboy's bounds on the other parts (fields, parts, field size); the file's is `maxBytes`. */
  limits: Omit<busboy.Limits, "fileSize">;
  /** Ends the reading early (the client left, the body was refused). */
  stop?: AbortSignal;
  /** The answer when `stop` aborts, from its abort reason. */
  stopped(reason: unknown): Refusal;
}

/** Multipart framing (boundaries, part headers) allowed on top of the image itself. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

const bad = (message: string): Refusal => ({ ok: false, status: 400, message });
/** imaginary's answer to a multipart body it cannot read to its end. */
export const unreadableMultipart = (): Refusal => bad("multipart: NextPart: EOF");

/**
 * Reads the first part named `file`; other parts are skipped. Fails with imaginary's status and
 * message (400 no boundary, no such file or broken framing; 413 too large), or with `stopped`.
 * Once settled the body is unpiped and paused, not destroyed: the caller still answers on it.
 */
export function readMultipartImage(body: Readable, options: MultipartImageOptions): Promise<MultipartImage> {
  const { maxBytes, stop } = options;
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": options.contentType },
      limits: { ...options.limits, fileSize: maxBytes },
    });
  } catch {
    // Nothing of this body will be read: let it drain, so the answer can be read on the connection.
    body.resume();
    return Promise.resolve(bad("no multipart boundary param in Content-Type"));
  }
  return new Promise<MultipartImage>((resolve) => {
    let settled = false;
    let file: Promise<MultipartImage> | undefined;
    let received = 0;
    const onStop = () => settle(options.stopped(stop?.reason));
    const settle = (image: MultipartImage) => {
      if (settled) return;
      settled = true;
      stop?.removeEventListener("abort", onStop);
      body.off("data", count);
      body.unpipe(parser);
      body.pause();
      resolve(image);
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
      file = readBoundedBody(stream, { maxBytes }).then(
        (read): MultipartImage =>
          !read.ok || truncated
            ? tooLarge(maxBytes)
            : { ok: true, bytes: read.bytes, contentType: info.mimeType || "application/octet-stream" },
      );
    });
    parser.once("close", () => {
      if (file === undefined) settle(bad("http: no such file"));
      else void file.then(settle, () => settle(unreadableMultipart()));
    });
    parser.once("error", () => settle(unreadableMultipart()));
    body.once("error", () => settle(unreadableMultipart()));
    body.on("data", count);
    body.pipe(parser);
    if (stop?.aborted) onStop();
    else stop?.addEventListener("abort", onStop, { once: true });
  });
}
