/**
 * The one HTTP exchange the imaginary client needs from below, declared where the client consumes
 * it (STYLE.md "Shape"): a pinned or plain TCP endpoint is served by undici's Pool
 * (pool-transport.ts), a `unix:` endpoint by node:http (socket-transport.ts), so a run that only
 * talks to the local backend never loads undici (~100 ms of every CLI start).
 */
import type { Readable } from "node:stream";

export interface TransportRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. `/resize?width=300`. */
  path: string;
  /** Lower-case names. A `content-length` sends a stream body unchunked; without one it goes out chunked. */
  headers: Record<string, string>;
  body: Uint8Array | Readable | undefined;
  signal: AbortSignal | undefined;
  /** Longest wait for the response headers, re-armed while the body is being sent. */
  headersTimeout: number;
  /** Longest pause between two chunks of the response body while its reader waits for them. */
  bodyTimeout: number;
}

export interface TransportResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The response body; the caller consumes or destroys it. */
  body: Readable;
}

/**
 * Errors keep undici's codes (UND_ERR_HEADERS_TIMEOUT, UND_ERR_CLOSED, …), the socket's (ENOENT,
 * ECONNREFUSED) or are the signal's reason, so client-errors.ts maps every transport the same way.
 */
export interface Transport {
  request(request: TransportRequest): Promise<TransportResponse>;
  /** Refuses new requests, lets those in flight finish, then closes every connection. */
  close(): Promise<void>;
}
