/**
 * Input type detection from the bytes, as imaginary does before anything else (imaginary-api.md
 * §1.3: http.DetectContentType, then filetype, then the SVG regex; 406 when unsupported). Only
 * formats the bundled libvips can load are accepted (§4: "must be loadable by the linked libvips"):
 * sharp's prebuilt libvips has no PDF (poppler) or HEVC-HEIF loader, so those answer 406 here.
 */

export type InputType = "jpeg" | "png" | "webp" | "tiff" | "gif" | "svg" | "avif";

// bimg's SVG test: optional XML declaration / doctype, then an <svg> element.
const svgPattern = /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!doctype svg[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<svg[\s>]/i;

/** The image type of `bytes`, or undefined for anything imaginary would answer 406 to. */
export function sniffImageType(bytes: Buffer): InputType | undefined {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => bytes[i] === b);
  const ascii = (from: number, to: number): string => bytes.subarray(from, to).toString("latin1");
  if (starts(0xff, 0xd8, 0xff)) return "jpeg";
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "png";
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return "tiff";
  if (ascii(4, 8) === "ftyp" && /^(avif|avis)$/.test(ascii(8, 12))) return "avif";
  // DetectContentType reports "text/xml" for an XML declaration, which imaginary maps to svg.
  const head = bytes.subarray(0, 4096).toString("utf8").replace(/^\uFEFF/, "");
  if (/^\s*<\?xml/i.test(head) || svgPattern.test(head)) return "svg";
  return undefined;
}
