/**
 * A cheap look at the first bytes, so an upload that is plainly not an image is answered 406
 * "Unsupported media type" (imaginary-api.md §1.8) without waking a backend. It errs towards
 * "maybe an image": anything it lets through still meets the backend's own sniffing.
 */

const decoder = new TextDecoder("utf-8", { fatal: false });

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((byte, i) => bytes[offset + i] === byte);
}

const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

/** Formats imaginary can read (§4): jpeg, png, gif, webp, tiff, pdf, heif/avif, bmp, and svg. */
export function mayBeImage(bytes: Uint8Array): boolean {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return true; // JPEG
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return true; // PNG
  if (startsWith(bytes, ascii("GIF8"))) return true;
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return true;
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return true; // TIFF
  if (startsWith(bytes, ascii("%PDF"))) return true;
  if (startsWith(bytes, ascii("ftyp"), 4)) return true; // ISO BMFF: HEIF, HEIC, AVIF
  if (startsWith(bytes, ascii("BM"))) return true;
  return looksLikeSvg(bytes);
}

/** imaginary accepts SVG sent as XML or as text that matches its SVG pattern (§4): an `<svg` element early on. */
function looksLikeSvg(bytes: Uint8Array): boolean {
  const head = decoder.decode(bytes.subarray(0, 4096)).replace(/^\uFEFF/, "").trimStart();
  return head.startsWith("<") && /<svg[\s>]/i.test(head);
}
