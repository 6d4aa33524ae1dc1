import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { detectFormat } from "../../src/protocol/formats.js";
import { sniffImageType } from "../../src/backend/sniff.js";

const ascii = (text: string, size = 64): Buffer =>
  Buffer.concat([Buffer.from(text, "latin1"), Buffer.alloc(Math.max(0, size - text.length))]);

describe("image format detection (docs/reference/imaginary-api.md §1.3)", () => {
  it("names every format sharp writes", async () => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } });
    for (const format of ["jpeg", "png", "webp", "tiff", "gif"] as const) {
      expect(detectFormat(await base.clone().toFormat(format).toBuffer()), format).toBe(format);
    }
  });

  it("tells AVIF from other ISO-BMFF brands, and knows PDF and BMP", () => {
    expect(detectFormat(ascii("\0\0\0\x1cftypavif"))).toBe("avif");
    expect(detectFormat(ascii("\0\0\0\x18ftypheic"))).toBe("heif");
    expect(detectFormat(ascii("%PDF-1.7\n"))).toBe("pdf");
    expect(detectFormat(ascii("BM6\0\0\0"))).toBe("bmp");
  });

  it("takes SVG by bimg's pattern or an XML declaration, not any text that mentions <svg", () => {
    expect(detectFormat(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>'))).toBe(
      "svg",
    );
    expect(detectFormat(Buffer.from('\uFEFF<!-- logo -->\n<svg width="1" height="1"></svg>'))).toBe("svg");
    expect(detectFormat(Buffer.from("<html><body><svg></svg></body></html>"))).toBeUndefined();
  });

  it("reads comments before and after a doctype as bimg's pattern does (without exponential backtracking)", () => {
    const commented = "<!-- a -- b ---><!--c-->\n<!DOCTYPE svg PUBLIC 'x'>\n<!-- d --><svg>";
    expect(detectFormat(Buffer.from(commented))).toBe("svg");
    expect(detectFormat(Buffer.from("<!-- a --> <!-- b --> <svg width='1'>"))).toBe("svg");
    expect(detectFormat(Buffer.from("<!-- a --><!-- b --><!DOCTYPE svg><!DOCTYPE svg><svg>"))).toBeUndefined();
    expect(detectFormat(Buffer.from("<!-- an unclosed comment <svg>"))).toBeUndefined();
  });

  it("rejects plain text, JSON, zeros and an empty body", () => {
    expect(detectFormat(Buffer.from("1".repeat(1024)))).toBeUndefined();
    expect(detectFormat(Buffer.from('{"image":"no"}'))).toBeUndefined();
    expect(detectFormat(Buffer.alloc(64))).toBeUndefined();
    expect(detectFormat(new Uint8Array())).toBeUndefined();
  });

  it("the built-in backend accepts only what its libvips loads: PDF, HEIF and BMP are refused there", () => {
    expect(sniffImageType(ascii("\0\0\0\x1cftypavif"))).toBe("avif");
    expect(sniffImageType(ascii("%PDF-1.7\n"))).toBeUndefined();
    expect(sniffImageType(ascii("\0\0\0\x18ftypheic"))).toBeUndefined();
    expect(sniffImageType(ascii("BM6\0\0\0"))).toBeUndefined();
  });
});
