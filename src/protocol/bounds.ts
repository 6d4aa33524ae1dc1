/**
 * Bounds on the parameters whose cost no input size bounds: the text
 * watermark's text, dpi, font size and text width, and the blur's sigma. imaginary has none of
 * these (docs/reference/imaginary-api.md §1.4, §2.3: "output size is unbounded"); a 519-byte JPEG with
 * `dpi=1500&textwidth=16000` made a backend render an 88 MP text mask. These checks need only
 * the parameters, so the CLI and `serve` refuse before waking a backend; what depends on the
 * image's size (the render area, the blur's work) is the backend's (src/backend/costs.ts).
 * Refusals are 422, like imaginary's "Image resolution is too big".
 */
import type { OperationName, PipelineName } from "./catalogue.js";
import type { ImageOptions, Rejection } from "./params.js";

export const costBounds = {
  /** `text` in UTF-8 bytes: a caption, not a document; also bounds Pango's layout work. */
  maxTextBytes: 1024,
  /** `dpi`: 4 × imaginary's default of 150; print resolution. */
  maxDpi: 600,
  /** The size in `font` (points, or px with the `px` suffix): 20 × the default `sans 10`. */
  maxFontSize: 200,
  /** `textwidth` in px: the width a wide output (72 MP at 16:9 is 11314 px) can show; half cairo's 32767. */
  maxTextWidthPx: 16384,
  /**
   * `sigma`: libvips' Gaussian kernel is about 3.6σ taps wide (7.4σ at minampl 0.001), and its
   * work is pixels × taps; past ~1000 taps libvips leaves its vector path and gets ~50× slower
   * (σ 300 took 32 s on 2 MP). 100 keeps every kernel under 750 taps.
   */
  maxBlurSigma: 100,
} as const;

/** Pango's size when `font` names none (measured: "sans" renders as "sans 12"). */
export const defaultFontSize = 12;

const tooBig = (message: string): Rejection => ({ ok: false, status: 422, message });

/** The cost-bound rejection of `op` with these options, or undefined when they are within bounds. */
export function checkCostBounds(op: OperationName | PipelineName, o: ImageOptions): Rejection | undefined {
  // autorotate ignores every param; info reads the header only (§1.5).
  if (op === "autorotate" || op === "info" || op === "pipeline" || op === "watermarkimage") return undefined;
  if (op === "watermark") {
    if (Buffer.byteLength(o.text ?? "", "utf8") > costBounds.maxTextBytes) {
      return tooBig(`Watermark text is too long (limit ${costBounds.maxTextBytes} bytes)`);
    }
    // Pipeline numbers keep their sign (§1.6); a negative one is as large to Pango or refused by sharp.
    if (Math.abs(o.dpi ?? 0) > costBounds.maxDpi)
      return tooBig(`Watermark dpi is too big (limit ${costBounds.maxDpi})`);
    if (fontSizeOf(o.font ?? "") > costBounds.maxFontSize)
      return tooBig(`Watermark font size is too big (limit ${costBounds.maxFontSize})`);
    if (Math.abs(o.textwidth ?? 0) > costBounds.maxTextWidthPx)
      return tooBig(`Watermark text width is too big (limit ${costBounds.maxTextWidthPx} px)`);
  }
  if (Math.abs(o.sigma ?? 0) > costBounds.maxBlurSigma)
    return tooBig(`Blur sigma is too big (limit ${costBounds.maxBlurSigma})`);
  return undefined;
}

/**
 * The font size a Pango font description may select, erring high. Pango reads its last word with
 * g_ascii_strtod (so `1e3`, `0x3e8` and `+1000` are sizes, `px` marks pixels), and which word
 * counts is subtle, so every word that reads as a number is a candidate and the largest wins. A
 * hex float (`0x1p10`), `inf` or `nan` is Infinity: refused rather than guessed.
 */
export function fontSizeOf(font: string): number {
  let size: number | undefined;
  for (const word of font.split(/[\s,@]+/)) {
    const number = (word.endsWith("px") ? word.slice(0, -2) : word).replace(/^[+-]/, "");
    let value: number | undefined;
    if (/^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(number) || /^0x[0-9a-f]+$/i.test(number)) value = Number(number);
    else if (/^(?:0x[0-9a-f]*\.?[0-9a-f]*(?:p[+-]?\d+)?|inf|infinity|nan)$/i.test(number)) value = Infinity;
    if (value !== undefined) size = Math.max(size ?? 0, Number.isFinite(value) ? value : Infinity);
  }
  return size ?? defaultFontSize;
}
