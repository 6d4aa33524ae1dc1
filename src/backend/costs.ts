/**
 * Estimates, from sizes and parameters only, of the work no input size bounds:
 * the text watermark's render and the blur's kernel. imaging.ts checks them against the output
 * pixel limit before any pixel work; the parameter-only bounds are the catalogue's (bounds.ts).
 */
import { fontSizeOf } from "../protocol/bounds.js";

/**
 * A blur may do the work of a kernel this many taps wide over the largest allowed output: 200 ×
 * 72 MP is about 8 s of one core (measured: 0.55 ns per tap and pixel), the order of the largest
 * enlarge (18 → 72 MP: 6 s). Below ~19 MP the sigma bound (100) is the tighter one.
 */
export const blurTapsAtLimit = 200;

/** libvips' gaussmat width: every x with exp(-x²/2σ²) ≥ min_ampl, mirrored, plus the centre. */
export function gaussianTaps(sigma: number, minAmplitude: number): number {
  return 2 * Math.floor(sigma * Math.sqrt(-2 * Math.log(minAmplitude))) + 3;
}

/** The largest sigma, rounded down to 0.1, whose kernel is at most `maxTaps` wide. */
export function largestSigma(maxTaps: number, minAmplitude: number): number {
  const spread = Math.sqrt(-2 * Math.log(minAmplitude));
  if (spread === 0) return Infinity;
  return Math.max(0, Math.floor(((maxTaps - 3) / 2 / spread) * 10) / 10);
}

/**
 * An upper estimate of the text mask Pango renders for the watermark: one em per UTF-8 byte
 * (Latin glyphs are ~0.6 em, a CJK glyph 1 em in 3 bytes), eight per tab, lines 1.5 em apart
 * (DejaVu Sans: 1.17), wrapped at spaces as Pango's WRAP_WORD does: a word wider than the wrap
 * width overflows it rather than being broken (measured: 500 × "x" at width 300 is 6000 px wide).
 * The em is the font size at `dpi`, or in px when that is larger (a `px` size ignores the dpi).
 */
export function textRenderSize(
  text: string,
  font: string,
  dpi: number,
  wrapWidthPx: number,
): { width: number; height: number } {
  const emPx = fontSizeOf(font) * Math.max(1, dpi / 72);
  let widest = 0;
  let rows = 0;
  for (const line of text.split(/\r\n|[\n\r\u2028\u2029]/)) {
    rows += 1;
    let row: number | undefined; // width of the current row; undefined before its first word
    for (const word of line.split(" ")) {
      const wordPx = (Buffer.byteLength(word, "utf8") + 7 * (word.split("\t").length - 1)) * emPx;
      if (row === undefined) row = wordPx;
      else if (row + emPx + wordPx > wrapWidthPx) {
        rows += 1;
        row = wordPx;
      } else row += emPx + wordPx;
      widest = Math.max(widest, row);
    }
  }
  return { width: Math.ceil(widest), height: rows * Math.ceil(1.5 * emPx) };
}
