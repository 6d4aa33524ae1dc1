/**
 * `--background`: a colour as people write it, turned into imaginary's `background=R,G,B`
 * (docs/reference/imaginary-api.md §1.4). imaginary's colours have no alpha, so neither do these.
 */
import { usageError } from "../errors.js";

export type Rgb = readonly [number, number, number];

/** What transparent areas become when the output cannot hold them (JPEG). */
export const white: Rgb = [255, 255, 255];

// CSS's values for the names people reach for first.
const named = new Map<string, Rgb>([
  ["white", white],
  ["black", [0, 0, 0]],
  ["red", [255, 0, 0]],
  ["green", [0, 128, 0]],
  ["blue", [0, 0, 255]],
  ["yellow", [255, 255, 0]],
  ["grey", [128, 128, 128]],
  ["gray", [128, 128, 128]],
  ["silver", [192, 192, 192]],
]);

const accepted = "a colour such as white, #fff, #ffffff or 255,255,255";

/** "white", "#fff", "#ffffff" or "255,255,255" → [255, 255, 255]; anything else is a usage error. */
export function parseColour(flag: string, value: string): Rgb {
  const text = value.trim().toLowerCase();
  const name = named.get(text);
  if (name) return name;
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(text)?.[1];
  const digits = hex?.length === 3 ? [...hex].map((d) => d + d).join("") : hex;
  const channels =
    digits !== undefined
      ? [digits.slice(0, 2), digits.slice(2, 4), digits.slice(4, 6)].map((h) => parseInt(h, 16))
      : /^(\d{1,3}) *, *(\d{1,3}) *, *(\d{1,3})$/.exec(text)?.slice(1).map(Number);
  const [r, g, b] = channels ?? [];
  if (r === undefined || g === undefined || b === undefined || Math.max(r, g, b) > 255) {
    throw usageError(flag, accepted, value);
  }
  return [r, g, b];
}

/** imaginary's form of a colour: "R,G,B". */
export function colourParam(colour: Rgb): string {
  return colour.join(",");
}
