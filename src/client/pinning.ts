/**
 * Certificate pinning for HTTPS backends: an undici connector that accepts exactly one
 * certificate, named by its SHA-256 fingerprint, and nothing else.
 *
 * Chain validation is off (`rejectUnauthorized: false`) on purpose: the backend's certificate is
 * self-signed, and a certificate some trusted CA signed (NODE_EXTRA_CA_CERTS, a corporate proxy)
 * must be refused just the same, so trust is the fingerprint alone. The check runs when the
 * handshake completes and before the socket is handed to undici, so a refused peer never receives
 * a byte of any request (no API key, no image).
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { buildConnector } from "undici";
import { AciimgError } from "../errors.js";
import { normalizeFingerprint } from "./fingerprint.js";

/**
 * A connector for undici's `connect` option that fails the connection unless the peer presents the pinned certificate.
 */
export function pinnedConnector(options: {
  endpoint: string;
  fingerprint: string;
  timeoutMs: number;
}): buildConnector.connector {
  const connect = buildConnector({
    timeout: options.timeoutMs,
    rejectUnauthorized: false,
    // No TLS session resumption: every connection does a full handshake and shows its certificate.
    maxCachedSessions: 0,
  });
  return (connectOptions, callback) => {
    connect(connectOptions, (error, socket) => {
      if (error || !socket) {
        callback(transportError(error ?? new Error("no socket"), options.endpoint), null);
        return;
      }
      // An empty object (no certificate) has no fingerprint256 and is refused like a wrong one.
      const presented = (socket as TLSSocket).getPeerCertificate?.().fingerprint256 as string | undefined;
      if (presented !== undefined && normalizeFingerprint(presented) === options.fingerprint) {
        callback(null, socket as Socket);
        return;
      }
      socket.destroy();
      callback(untrustedError(options.endpoint, presented, options.fingerprint), null);
    });
  };
}

function untrustedError(endpoint: string, presented: string | undefined, expected: string): AciimgError {
  return new AciimgError(
    "E_BACKEND_UNTRUSTED",
    `the backend at ${endpoint} presented certificate ${presented ?? "(none)"} where ${expected} was expected; ` +
      `the connection was closed before anything was sent (no API key, no image). ` +
      `If the backend was restarted by hand, run \`aciimg down\` to replace it; ` +
      `otherwise someone may be intercepting the connection to ${endpoint}.`,
    { detail: { endpoint, presented: presented ?? null, expected } },
  );
}

/**
 * A failed handshake (the peer does not speak TLS, or sent a TLS alert) is another kind of
 * impostor: our backend always completes one. Resets and timeouts keep their socket codes, which
 * the client reads as "unreachable".
 */
function transportError(error: Error, endpoint: string): Error {
  const code = (error as { code?: unknown }).code;
  const isTlsFailure =
    typeof code === "string" && (code === "EPROTO" || code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_"));
  if (!isTlsFailure) return error;
  const reason = (error as { reason?: unknown }).reason;
  return new AciimgError(
    "E_BACKEND_UNTRUSTED",
    `the backend at ${endpoint} did not complete a TLS handshake (${typeof reason === "string" ? reason : code}); ` +
      `whatever answers there is not the backend aciimg made, and nothing was sent to it (no API key, no image). ` +
      `Run \`aciimg down\` to replace the backend.`,
    // "wrong version number": the peer answered a TLS hello in plain text (an HTTP server).
    { cause: error, detail: { endpoint, code, plainText: /wrong version number/i.test(error.message) } },
  );
}
