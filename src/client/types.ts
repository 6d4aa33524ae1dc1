/**
 * What one call to an imaginary-compatible backend sends and gets back. Declared with the client, so
 * the client needs nothing from the engine; `engine/types.ts` re-exports both as part of its contract.
 */
import type { Readable } from "node:stream";

/** An image request to the backend. `body` is replayable so a call can be retried once. */
export interface ImageRequest {
  /** Catalogue operation name (e.g. "resize", "pipeline", "info"). */
  op: string;
  /** imaginary query parameters (already validated against the catalogue by the caller or the engine). */
  query: URLSearchParams;
  /** The image: bytes, or a factory that opens a fresh stream each time (e.g. a file). */
  body: Uint8Array | (() => Readable);
  /**
   * The absolute path `body` reads. A backend that reads files under a root holding it (the
   * client's `fileRoot`) is sent `GET /<op>?…&file=` with no body and reads the file itself
   * (imaginary's -mount source, docs/reference/imaginary-api.md §1.2); any other is sent `body`.
   */
  file?: string;
  /**
   * The `<dev>:<ino>` the caller checked `file` to be: sent with a `GET ?file=` as
   * X-Aciimg-File-Identity, which the built-in backend alone reads (file-identity.ts). It then
   * reads that inode or refuses (412), and sends the header back when it compared.
   */
  fileIdentity?: string;
  /**
   * Byte length of a streamed body, when known (a file's size). Sent as Content-Length, so the
   * upload goes out unchunked and the backend can refuse an oversized body before reading it.
   */
  length?: number;
  /** Content-Type to send (raw bytes default to application/octet-stream; multipart is passed through). */
  contentType?: string;
  /** Accept header, for `type=auto`. */
  accept?: string;
  signal?: AbortSignal;
}

export interface ImageResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The result bytes, streamed. Consume or destroy it. */
  body: Readable;
}
