/** Parsers for human-written durations and sizes, shared by flags, env and config file. */
import { usageError } from "./errors.js";

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/**
 * Parses "300ms", "90s", "5m", "1h", "1h30m" or a bare number of seconds into milliseconds.
 * Fails with a usage error naming `what` (the flag or setting) and the accepted form.
 */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value * 1000;
    throw usageError(what, "a duration such as 90s, 5m or 1h", value);
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const part = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(text); match !== null; match = part.exec(text)) {
    total += Number(match[1]) * (durationUnits[match[2] as string] as number);
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw usageError(what, "a duration such as 90s, 5m or 1h", value);
  }
  return Math.round(total);
}

const sizeUnits: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Parses "20MB", "512KiB", "1048576" into bytes. */
export function parseBytes(value: string | number, what: string): number {
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(value).trim());
  const unit = match ? sizeUnits[(match[2] as string).toLowerCase()] : undefined;
  if (!match || unit === undefined || Number(match[1]) <= 0) {
    throw usageError(what, "a size such as 20MB, 512KiB or a number of bytes", value);
  }
  return Math.round(Number(match[1]) * unit);
}

/** Formats milliseconds for people: "4m 12s", "850ms", "1h 3m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
}

const byteUnits = ["KB", "MB", "GB", "TB"] as const;

/** Formats a byte count for people in the decimal units parseBytes reads: "20 MB", "1.5 GB", "512 B". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes / 1000;
  let unit = 0;
  // Round before choosing the unit, so 999 999 bytes reads "1 MB", not "1000 KB".
  while (Number(value.toPrecision(3)) >= 1000 && unit < byteUnits.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(3))} ${byteUnits[unit]}`;
}
