/**
 * Answering a request before its body has been read to the end (413 once it crosses the limit, a
 * refusal before reading it) so that the client reads the answer. Closing at once, with upload
 * bytes unread, makes the kernel reset the connection, and a client still sending (Node's fetch)
 * then gets EPIPE or ECONNRESET instead of the answer. As nginx's lingering close and Go's server
 * do, the answer goes out whole, then the rest of the body is read and dropped, bounded in bytes
 * and time, and only then is the connection closed. Both servers use it (the backend, `serve`).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";

export interface LingerBounds {
  /** Body bytes read and dropped after the answer, at most: a client reacts to the answer long before. */
  maxBytes: number;
  /** Longest time the connection is kept after the answer. */
  maxMs: number;
}

/**
 * 16 MiB covers what is in flight when the answer arrives (socket buffers are a few MiB) many
 * times over; 5 s is nginx's lingering_timeout.
 */
export const lingerBounds: LingerBounds = { maxBytes: 16 * 1024 * 1024, maxMs: 5_000 };

/** Whether `req` declares a body that is not read to its end yet. */
export function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/**
 * Sends `body` as the whole answer (with its Content-Length and `Connection: close`), then reads
 * and drops the rest of `req`'s body, and ends the response when the client has sent it all, or
 * closes the connection once `bounds` are reached (`onCut` is told how many bytes were dropped).
 */
export function answerThenLinger(
  req: IncomingMessage,
  res: ServerResponse,
  answer: { status: number; headers: OutgoingHttpHeaders; body: string | Uint8Array },
  bounds: LingerBounds = lingerBounds,
  onCut?: (droppedBytes: number) => void,
): void {
  const length = typeof answer.body === "string" ? Buffer.byteLength(answer.body) : answer.body.length;
  const headers = Object.fromEntries(
    Object.entries(answer.headers).filter(([name]) => !/^(content-length|connection)$/i.test(name)),
  );
  res.writeHead(answer.status, { ...headers, "Content-Length": length, Connection: "close" });
  // Written, not ended: Node closes the connection as soon as a `Connection: close` response ends.
  res.write(answer.body);
  let dropped = 0;
  let settled = false;
  const settle = (): void => {
    settled = true;
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("close", onEnd);
  };
  const onEnd = (): void => {
    if (settled) return;
    settle();
    res.end();
  };
  const cut = (): void => {
    if (settled) return;
    settle();
    onCut?.(dropped);
    res.end();
    req.socket.destroy();
  };
  const onData = (chunk: Buffer | string): void => {
    dropped += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    if (dropped >= bounds.maxBytes) cut();
  };
  const timer = setTimeout(cut, bounds.maxMs);
  req.on("data", onData);
  req.once("end", onEnd);
  req.once("close", onEnd);
  req.resume();
}
