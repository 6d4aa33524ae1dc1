/**
 * aciimg's extension to imaginary's query, read by the built-in backend alone: `failon` says how
 * much damage in an input's data stops its decoding (sharp's `failOn`, libvips' `fail_on`). A
 * JPEG with bytes overwritten, or cut short and given an end marker, decodes "successfully" into
 * a smeared or grey-bottomed picture with only a decoder warning; `failon=warning` refuses it.
 * Without the param the backend decodes as imaginary does (bimg loads with libvips' fail=false):
 * anything the decoder can make a picture of. imaginary ignores unknown params (docs/reference/imaginary-api.md
 * §1.4), so an imaginary backend decodes damaged data whatever is sent.
 */
import { goQuote, paramError } from "./go-format.js";
import type { Rejection } from "./params.js";

/** The query parameter. */
export const failOnParam = "failon";

/**
 * The levels, from most lenient to strictest, as sharp names them: `none` decodes whatever it
 * can; `truncated` stops at data cut short; `error` at data the decoder cannot read; `warning` at
 * anything the decoder warns about, such as corrupt data it skipped (sharp's own default).
 */
export const failOnLevels = ["none", "truncated", "error", "warning"] as const;
export type FailOn = (typeof failOnLevels)[number];

export function isFailOn(value: unknown): value is FailOn {
  return typeof value === "string" && (failOnLevels as readonly string[]).includes(value);
}

/** The level a query asks for: imaginary's leniency when absent, a 400 in its wording for an unknown level. */
export function failOnOf(query: URLSearchParams): { ok: true; value: FailOn } | Rejection {
  const value = query.get(failOnParam);
  if (value === null || value === "") return { ok: true, value: "none" };
  if (isFailOn(value)) return { ok: true, value };
  const problem = paramError(failOnParam, goQuote(value), `expected one of ${failOnLevels.join(", ")}`);
  return { ok: false, status: 400, message: `Error while processing parameters, ${problem}` };
}

/** How the backend words a refusal of damaged data; `damagedComplaint` finds the decoder's complaint in it. */
const damagedHead = "Error while processing the image: damaged image data (failon=";

/** The backend's message for an input its decoder refused at `level`. */
export function damagedMessage(level: FailOn, complaint: string): string {
  return `${damagedHead}${level}): ${complaint}`;
}

/** The decoder's complaint and the level it was refused at, when `message` is such a refusal; else undefined. */
export function damagedComplaint(message: string): { level: FailOn; complaint: string } | undefined {
  if (!message.startsWith(damagedHead)) return undefined;
  const match = /^([a-z]+)\): (.*)$/s.exec(message.slice(damagedHead.length));
  return match && isFailOn(match[1]) ? { level: match[1], complaint: match[2] ?? "" } : undefined;
}
