/**
 * The encoder an output is written with: imaginary's params as bimg hands them to libvips
 * (docs/reference/imaginary-api.md §1.4: `quality`, `compression`, `palette`, `interlace`), and
 * aciimg's extensions (src/protocol/encoder.ts): AVIF, `mozjpeg`, `lossless` and `effort`.
 */
import type { Sharp } from "sharp";
import { effortRange } from "../protocol/encoder.js";
import type { ImageOptions, OutputType } from "../protocol/operations.js";

/** `img` set to be written as `type` with the options in `o`. */
export function encoded(img: Sharp, type: OutputType, o: ImageOptions): Sharp {
  const quality = Math.min(Math.max(o.quality || 75, 1), 100);
  const progressive = o.interlace ?? false;
  const lossless = o.lossless ?? false;
  const palette = o.palette ?? false;
  const effort = sharpEffort(type, o.effort, palette);
  const withEffort = effort === undefined ? {} : { effort };
  switch (type) {
    case "jpeg":
      // sharp's mozjpeg also optimises progressive scans, so its JPEGs are progressive whatever `interlace`.
      return img.jpeg({ quality, progressive, mozjpeg: o.mozjpeg ?? false });
    case "png":
      return img.png({ compressionLevel: Math.min(o.compression || 6, 9), progressive, palette, ...withEffort });
    case "webp":
      return img.webp({ quality, lossless, ...withEffort });
    case "avif":
      // imaginary's default quality (75) rather than sharp's AVIF default (50): one `quality` for every format.
      return img.avif({ quality, lossless, ...withEffort });
    case "tiff":
      return img.tiff({ quality });
  }
}

/**
 * `effort` (0 fastest to 9 smallest, clamped: a pipeline's numbers keep their sign) on the scale of
 * `type`'s encoder: AVIF 0–9 as given, WebP 0–6, a palette PNG 1–10 (sharp's PNG `effort` turns
 * quantisation on, so a PNG without `palette` has none). JPEG and TIFF have no effort; undefined
 * leaves the encoder's default (AVIF 4, WebP 4, PNG 7).
 */
export function sharpEffort(type: OutputType, effort: number | undefined, palette: boolean): number | undefined {
  if (effort === undefined) return undefined;
  const level = Math.min(Math.max(Math.trunc(effort), effortRange.min), effortRange.max);
  if (type === "avif") return level;
  if (type === "webp") return Math.round((level * 6) / effortRange.max);
  if (type === "png" && palette) return level + 1;
  return undefined;
}
