/**
 * How the client reaches an endpoint: through a Unix socket (`unix:/abs/path.sock`, the local
 * backend), plain http, or https pinned to one certificate (an ACI backend). A wrong combination
 * is a programming error, refused rather than quietly downgraded.
 */
import { AciimgError } from "../errors.js";
import { normalizeFingerprint } from "./fingerprint.js";

/**
 * The socket of a `unix:/abs/path.sock` endpoint, undefined for http(s)://. Only an absolute path:
 * a relative one would name a different socket from each working directory.
 */
export function socketPathOf(endpoint: string): string | undefined {
  if (!endpoint.startsWith("unix:")) return undefined;
  const path = endpoint.slice("unix:".length);
  if (!path.startsWith("/"))
    throw new AciimgError(
      "E_INTERNAL",
      `createImaginaryClient: expected unix:/absolute/path.sock, got ${JSON.stringify(endpoint)}`,
    );
  return path;
}

/** The normalized pin for an https:// endpoint; refuses a missing pin there and a pin on http:// or a socket. */
export function pinOf(endpoint: string, tlsFingerprint: string | undefined): string | undefined {
  const protocol = endpoint.startsWith("unix:") ? "unix:" : new URL(endpoint).protocol;
  if ((protocol === "http:" || protocol === "unix:") && tlsFingerprint === undefined) return undefined;
  if (protocol === "http:" || protocol === "unix:") {
    throw new AciimgError(
      "E_INTERNAL",
      `createImaginaryClient: a tlsFingerprint was given for the plain-http endpoint ${endpoint}; ` +
        `refusing to drop the pin`,
    );
  }
  if (protocol !== "https:")
    throw new AciimgError(
      "E_INTERNAL",
      `createImaginaryClient: expected an http://, https:// or unix:/ endpoint, got ${JSON.stringify(endpoint)}`,
    );
  if (tlsFingerprint === undefined) {
    throw new AciimgError(
      "E_INTERNAL",
      `createImaginaryClient: the https endpoint ` +
        `${endpoint} needs a tlsFingerprint (the pinned certificate); refusing to trust any certificate`,
    );
  }
  const pin = normalizeFingerprint(tlsFingerprint);
  if (!pin)
    throw new AciimgError(
      "E_INTERNAL",
      `createImaginaryClient: tlsFingerprint: ` +
        `expected a SHA-256 fingerprint such as AB:CD:…(32 bytes), got ${JSON.stringify(tlsFingerprint)}`,
    );
  return pin;
}
