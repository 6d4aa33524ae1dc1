/**
 * What `aciimg serve` refuses or warns about before it listens: a missing or guessable client key,
 * and an address off this machine served without TLS (the key and every image in clear text).
 */
import { BlockList, isIP } from "node:net";
import { AciimgError } from "../errors.js";

/** The shortest client key `serve` accepts: `openssl rand -hex 32` gives 64 characters. */
export const MIN_SERVE_KEY_LENGTH = 16;

const HOW_TO_MAKE_ONE =
  "e.g. `export ACIIMG_SERVE_KEY=$(openssl rand -hex 32)` (--key works too, " +
  "but shows the key to anyone who can list processes)";

/**
 * Returns the key `serve` runs with; E_USAGE when it is missing or shorter than MIN_SERVE_KEY_LENGTH. Never prints it.
 */
export function checkServeKey(key: string | undefined): string {
  if (!key)
    throw new AciimgError("E_USAGE", `serve: no API key for its clients: set ACIIMG_SERVE_KEY, ${HOW_TO_MAKE_ONE}`);
  if (key.length < MIN_SERVE_KEY_LENGTH) {
    throw new AciimgError(
      "E_USAGE",
      `serve: the API key for its clients (ACIIMG_SERVE_KEY or --key) is ${key.length} characters long; ` +
        `it must be at least ${MIN_SERVE_KEY_LENGTH} and random, ${HOW_TO_MAKE_ONE}`,
    );
  }
  return key;
}

/** True when `host` can only be reached from this machine (127.0.0.0/8, ::1, localhost, their IPv4-mapped forms). */
export function isLoopbackHost(host: string): boolean {
  const address = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (address === "localhost") return true;
  const family = isIP(address);
  if (family === 0) return false;
  const loopback = new BlockList();
  loopback.addSubnet("127.0.0.0", 8, "ipv4");
  loopback.addAddress("::1", "ipv6");
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 rule.
  return loopback.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The warning for listening on `host` without TLS, or undefined when there is nothing to warn about. */
export function exposureWarning(host: string, hasTls: boolean): string | undefined {
  if (hasTls || isLoopbackHost(host)) return undefined;
  return (
    `WARNING: serve listens on ${host}, reachable from other machines, ` +
    `over plain HTTP: the API key and every image cross the network unencrypted. ` +
    "Serve HTTPS with --tls-cert and --tls-key (ACIIMG_SERVE_TLS_CERT, " +
    "ACIIMG_SERVE_TLS_KEY), or listen on 127.0.0.1 behind a TLS proxy."
  );
}
