/**
 * Parsers for flag values. Each throws a usage error naming the flag, the accepted form and the
 * bad value (STYLE.md "Errors and output"), so commander hands it to the one top-level catch.
 */
import { usageError } from "../errors.js";
import { outputTypeOfExtension, outputTypes, type OutputType } from "../protocol/output-types.js";

/** "300x200" → { width: 300, height: 200 }. */
export function parseSize(flag: string, value: string): { width: number; height: number } {
  const match = /^(\d{1,5})x(\d{1,5})$/i.exec(value.trim());
  const width = match ? Number(match[1]) : 0;
  const height = match ? Number(match[2]) : 0;
  if (!match || width < 1 || height < 1) throw usageError(flag, "WxH such as 300x200", value);
  return { width, height };
}

/** A whole number within [min, max]. */
export function parseInteger(flag: string, value: string, min: number, max: number, example: string): number {
  const text = value.trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError(flag, `a whole number from ${min} to ${max} such as ${example}`, value);
  }
  return n;
}

/** "320,640,1280": whole numbers within [min, max], each once, in the order given; one is a list of one. */
export function parseIntegerList(flag: string, value: string, min: number, max: number, example: string): number[] {
  const parts = value.split(",");
  if (parts.length > maxListed) throw usageError(flag, `at most ${maxListed} values`, value);
  const values = parts.map((part) => parseInteger(flag, part, min, max, `${example} or ${example},${example}0`));
  return [...new Set(values)];
}

/** Output formats, as parseOutputType reads each: "webp,jpeg"; each once, in the order given. */
export function parseOutputTypes(flag: string, value: string): CliOutputType[] {
  const parts = value.split(",");
  if (parts.length > maxListed) throw usageError(flag, `at most ${maxListed} formats`, value);
  return [...new Set(parts.map((part) => parseOutputType(flag, part)))];
}

/** The most values a list flag takes: each is an output of every input. */
const maxListed = 16;

/** A positive decimal number such as a blur sigma. */
export function parsePositive(flag: string, value: string, example: string): number {
  const text = value.trim();
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0)) throw usageError(flag, `a positive number such as ${example}`, value);
  return n;
}

/** Rotation: imaginary rounds down to a multiple of 90 (docs/reference/imaginary-api.md §1.4): accept only those. */
export function parseRotation(flag: string, value: string): number {
  const text = value.trim();
  if (!["90", "180", "270"].includes(text)) throw usageError(flag, "90, 180 or 270", value);
  return Number(text);
}

/** The CLI writes every format imaginary writes. */
export type CliOutputType = OutputType;

/** Output format, or one of its extensions as an alias ("jpg", "tif"). */
export function parseOutputType(flag: string, value: string): CliOutputType {
  const type = outputTypeOfExtension(value.trim().toLowerCase());
  if (type === undefined) throw usageError(flag, `one of ${outputTypes.join(", ")}`, value);
  return type;
}

/** "k=v" for --param. */
export function parseParam(flag: string, value: string): [string, string] {
  const eq = value.indexOf("=");
  if (eq < 1) throw usageError(flag, "KEY=VALUE such as width=300", value);
  return [value.slice(0, eq).trim(), value.slice(eq + 1)];
}
