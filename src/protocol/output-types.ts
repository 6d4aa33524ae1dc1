/**
 * The formats imaginary can write (docs/reference/imaginary-api.md §4) and the one only the built-in backend
 * writes (AVIF), declared once: the catalogue's `type` coercion, the backend's encoder choice, the
 * CLI's `--type` and its output file names all read this list.
 */

/** Each writable format's file extensions, the usual one first. */
export const extensionsOf = {
  jpeg: ["jpg", "jpeg"],
  png: ["png"],
  webp: ["webp"],
  tiff: ["tiff", "tif"],
  avif: ["avif"],
} as const satisfies Record<string, readonly string[]>;

/** Output formats the built-in backend writes: imaginary's and AVIF. */
export type OutputType = keyof typeof extensionsOf;
export const outputTypes = Object.keys(extensionsOf) as OutputType[];

/** Each writable format's media type, the `Content-Type` of an answer in it. */
export const mediaTypeOf: Record<OutputType, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  tiff: "image/tiff",
  avif: "image/avif",
};

/**
 * Output formats only the built-in backend writes (aciimg's extension): imaginary answers `type=avif`
 * with 400 "Unsupported output image format" (§4), and a pipeline step's with its input's format.
 */
export const builtInOnlyTypes: readonly OutputType[] = ["avif"];

/** The output formats imaginary writes (§4), which a request checked by imaginary's rules may name. */
export function isImaginaryOutputType(name: string): name is OutputType {
  return isOutputType(name) && !builtInOnlyTypes.includes(name);
}

/** Formats imaginary accepts in `type=` but cannot write: the op then fails (§1.5 /convert, §4). */
export type UnwritableType = "gif" | "svg" | "pdf";
export const unwritableTypes: readonly UnwritableType[] = ["gif", "svg", "pdf"];

export function isOutputType(name: string): name is OutputType {
  return (outputTypes as readonly string[]).includes(name);
}

/** "jpg" → "jpeg", "tif" → "tiff", "png" → "png": the format a (lower-case) extension names. */
export function outputTypeOfExtension(extension: string): OutputType | undefined {
  return outputTypes.find((type) => (extensionsOf[type] as readonly string[]).includes(extension));
}

/** `type=auto`: the first of image/webp, image/png, image/jpeg in `Accept` order (§1.7). */
export function negotiateType(accept: string): OutputType | undefined {
  for (const part of accept.split(",")) {
    const media = (part.split(";")[0] ?? "").trim().toLowerCase();
    if (media === "image/webp") return "webp";
    if (media === "image/png") return "png";
    if (media === "image/jpeg") return "jpeg";
  }
  return undefined;
}
