/**
 * aciimg's extension to imaginary's query, read by the built-in backend alone: the encoder options
 * web assets want. `mozjpeg` (smaller JPEGs), `lossless` (WebP, AVIF) and `effort` (time spent for
 * smaller WebP, AVIF and palette PNG files) are coerced as imaginary coerces its own bools and ints
 * (§1.4), in a query and in a pipeline step, by the built-in backend's rules (`Dialect`); with
 * imaginary's rules they are unknown params, ignored, as imaginary ignores them. AVIF output is the
 * other half of the extension (output-types.ts). Progressive output is imaginary's own `interlace`.
 */
import type { ParamSpec } from "./params.js";

/**
 * imaginary's `speed` is not reused for `effort`: bimg hands it to libvips for AVIF, which imaginary
 * refuses to write, and for a palette PNG, where bimg forces `speed=3` (libvips' default effort).
 */
export const encoderParamSpecs = {
  mozjpeg: {
    kind: "bool",
    description: "JPEG: mozjpeg's trellis quantisation and optimised progressive scans",
    default: "false",
  },
  lossless: { kind: "bool", description: "WebP/AVIF lossless compression", default: "false" },
  effort: {
    kind: "int",
    description: "WebP/AVIF/palette PNG encoder effort, 0 (fastest) to 9 (smallest)",
    default: "the encoder's",
  },
} as const satisfies Record<string, ParamSpec>;
export type EncoderParamName = keyof typeof encoderParamSpecs;

/** The range of `effort`; the backend clamps to it, as it clamps `quality`. */
export const effortRange = { min: 0, max: 9 } as const;
