/**
 * What image format some bytes are, judged the way imaginary does before anything else
 * (docs/reference/imaginary-api.md §1.3: magic numbers via http.DetectContentType and filetype, then bimg's SVG
 * pattern). One detector for every part: the HTTP surface uses it to refuse non-images without
 * waking a backend (whatever imaginary may load passes), the built-in backend to pick a decoder
 * (only what sharp's libvips loads passes).
 */

export type DetectedFormat = "jpeg" | "png" | "gif" | "webp" | "tiff" | "avif" | "heif" | "pdf" | "bmp" | "svg";

// bimg's SVG test: optional XML declaration / doctype, then an <svg> element. A comment cannot
// run past its first `-->`, and comments after a doctype only follow one: with `<!--[\s\S]*?-->`
// in two starred groups, each run of comments could be matched in exponentially many ways, and
// 22 short comments without an <svg> took 1.1 s of the event loop, and each 2 more 4 times as long.
const comments = String.raw`(?:<!--(?:[^-]|-(?!->))*-->\s*)*`;
const svgPattern = new RegExp(
  String.raw`^\s*(?:<\?xml[^>]*>\s*)?${comments}(?:<!doctype svg[^>]*>\s*${comments})?<svg[\s>]`,
  "i",
);
const utf8 = new TextDecoder("utf-8", { fatal: false });
const latin1 = new TextDecoder("latin1");

/** The format of `bytes` (a prefix of at least 4 KiB is enough), or undefined when it is no image imaginary knows. */
export function detectFormat(bytes: Uint8Array): DetectedFormat | undefined {
  const starts = (...sig: number[]): boolean => bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b);
  const ascii = (from: number, to: number): string => latin1.decode(bytes.subarray(from, to));
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
  // ISO BMFF: AVIF by its brand, every other brand (heic, mif1, …) as HEIF.
  if (ascii(4, 8) === "ftyp") return /^(avif|avis)$/.test(ascii(8, 12)) ? "avif" : "heif";
  if (ascii(0, 4) === "%PDF") return "pdf";
  if (ascii(0, 2) === "BM") return "bmp";
  // DetectContentType reports "text/xml" for an XML declaration, which imaginary maps to svg.
  const head = utf8.decode(bytes.subarray(0, 4096)).replace(/^\uFEFF/, "");
  if (/^\s*<\?xml/i.test(head) || svgPattern.test(head)) return "svg";
  return undefined;
}
