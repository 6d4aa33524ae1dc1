/**
 * Input types the built-in backend decodes. Only formats the bundled libvips can load are
 * accepted (docs/reference/imaginary-api.md §4: "must be loadable by the linked libvips"): sharp's prebuilt
 * libvips has no PDF (poppler), HEVC-HEIF or BMP loader, so those answer 406 here as imaginary
 * would with such a libvips.
 */
import { detectFormat } from "../protocol/formats.js";

export type InputType = "jpeg" | "png" | "webp" | "tiff" | "gif" | "svg" | "avif";

const loadable = new Set<string>(["jpeg", "png", "webp", "tiff", "gif", "svg", "avif"] satisfies InputType[]);

/** The image type of `bytes`, or undefined for anything imaginary would answer 406 to. */
export function sniffImageType(bytes: Uint8Array): InputType | undefined {
  const format = detectFormat(bytes);
  return format !== undefined && loadable.has(format) ? (format as InputType) : undefined;
}
