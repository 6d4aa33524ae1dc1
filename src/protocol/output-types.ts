/**
 * The formats imaginary can write (docs/reference/imaginary-api.md §4), declared once: the catalogue's `type`
 * coercion, the backend's encoder choice, the CLI's `--type` and its output file names all read
 * this list.
 */

/** Each writable format's file extensions, the usual one first. */
export const extensionsOf = {
  jpeg: ["jpg", "jpeg"],
  png: ["png"],
  webp: ["webp"],
  tiff: ["tiff", "tif"],
} as const satisfies Record<string, readonly string[]>;

/** Output formats imaginary can write (docs/reference/imaginary-api.md §4). */
export type OutputType = keyof typeof extensionsOf;
export const outputTypes = Object.keys(extensionsOf) as OutputType[];

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
