/**
 * The value rules of the settings loadConfig (config.ts) reads: each parser names the flag,
 * variable or file key the value came from, the accepted form and the bad value.
 */
import { usageError } from "./errors.js";
import { failOnLevels, isFailOn, type FailOn } from "./protocol/fail-on.js";
import { parseDuration } from "./units.js";

export function positiveNumber(value: string | number, what: string, expected: string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0 || (typeof value === "string" && value.trim() === ""))
    throw usageError(what, expected, value);
  return n;
}

export function port(value: string | number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(what, "a port number from 0 to 65535", value);
  return n;
}

/** The longest request timeout: Node's timers hold at most 2^31-1 ms (~24.8 days), and a day is already generous. */
const maxRequestTimeoutMs = 24 * 3_600_000;

export function requestTimeout(value: string | number, what: string): number {
  const ms = parseDuration(value, what);
  if (ms <= 0 || ms > maxRequestTimeoutMs) {
    throw usageError(what, "a duration above 0 and at most 24h, such as 90s, 5m or 1h", value);
  }
  return ms;
}

/** 1 s to 1 h: sharp's timeout counts whole seconds up to an hour (src/backend/deadline.ts). */
export function renderTime(value: Setting): number {
  const ms = parseDuration(value.value, value.from);
  if (ms < 1000 || ms > 3_600_000) {
    throw usageError(value.from, "a duration from 1s to 1h such as 60s or 5m", value.value);
  }
  return ms;
}

export function failOnLevel(value: Setting): FailOn {
  const level = String(value.value);
  if (!isFailOn(level)) throw usageError(value.from, failOnLevels.join(", ").replace(/, (\w+)$/, " or $1"), level);
  return level;
}

export function armRetries(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10)
    throw usageError("ACIIMG_ARM_MAX_RETRIES", "an integer from 0 to 10", value);
  return n;
}

/**
 * The largest pool (`--backends`): ACI allows 100 cores and 300 creates an hour per region by
 * default (docs/reference/arm-notes.md), and each member is billed on its own; a typo of 100 must not start 100.
 */
export const maxBackends = 20;

export function backendCount(value: string | number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > maxBackends || (typeof value === "string" && value.trim() === "")) {
    throw usageError(what, `a whole number of backends from 1 to ${maxBackends}`, value);
  }
  return n;
}

export function switchValue(value: string | number | boolean, what: string): boolean {
  const text = String(value).toLowerCase();
  if (text === "true" || text === "1" || text === "yes") return true;
  if (text === "false" || text === "0" || text === "no") return false;
  throw usageError(what, "true or false", String(value));
}

/** Where one setting came from: its value, and the flag, variable or file key that set it (for messages). */
export type Setting = { value: string | number; from: string };

/**
 * The ARM endpoint: https only, as a bare origin, since the SDK sends the Azure bearer token to it
 * (an http:// one would hand the token to anyone on the path). Default https://management.azure.com.
 */
export function armEndpointOf(value: Setting | undefined): string {
  if (value === undefined) return "https://management.azure.com";
  const expected = "an https:// URL such as https://management.usgovcloudapi.net";
  let url: URL;
  try {
    url = new URL(String(value.value));
  } catch {
    throw usageError(value.from, expected, value.value);
  }
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw usageError(value.from, expected, value.value);
  }
  return String(value.value).replace(/\/+$/, "");
}
