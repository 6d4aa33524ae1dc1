/**
 * The backend's log lines, in imaginary's formats: one access line per response, one per failed
 * TLS handshake.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** One access-log line per finished response, in imaginary's format, the key redacted from the URI. */
export function logAccess(
  req: IncomingMessage,
  res: ServerResponse,
  started: bigint,
  log: (line: string) => void,
  redact: (uri: string) => string,
): void {
  res.on("finish", () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const when = new Date().toISOString().replace("T", " ").slice(0, 19);
    const bytes = Number(res.getHeader("Content-Length") ?? 0);
    log(
      `${req.socket.remoteAddress ?? "-"} - - [${when}] "${req.method} ` +
        `${redact(req.url ?? "/")} HTTP/${req.httpVersion}" ${res.statusCode} ${bytes} ${seconds.toFixed(4)}`,
    );
  });
}

/** Logs each failed TLS handshake of `server`, as imaginary does. */
export function logHandshakeErrors(server: HttpServer | HttpsServer, log: (line: string) => void): void {
  // A client that fails the handshake (plain HTTP sent to the TLS port, a client refusing our
  // certificate) gets one line, as Go's net/http logs it for imaginary (server.go: "http: TLS
  // handshake error from %s: %v"), with the standard Go log date prefix. No request data exists yet.
  // The peer is read when the TCP connection arrives: a TLS socket reset before its handshake
  // no longer knows it. Node gives the TLS socket's TCP socket as `_parent` only.
  const peers = new WeakMap<Socket, string>();
  server.on("connection", (raw: Socket) => {
    const host = raw.remoteAddress ?? "-";
    peers.set(raw, `${host.includes(":") ? `[${host}]` : host}:${raw.remotePort ?? "-"}`);
  });
  server.on("tlsClientError", (error: Error & { reason?: string; code?: string }, socket: TLSSocket) => {
    const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
    const from = (raw && peers.get(raw)) ?? `${socket.remoteAddress ?? "-"}:${socket.remotePort ?? "-"}`;
    // OpenSSL's reason ("http request", "wrong version number"), not its message with addresses and source paths.
    const reason = error.reason ? `${error.reason}${error.code ? ` (${error.code})` : ""}` : error.message;
    const when = new Date().toISOString().replace("T", " ").replace(/-/g, "/").slice(0, 19);
    log(`${when} http: TLS handshake error from ${from}: ${reason}`);
  });
}
