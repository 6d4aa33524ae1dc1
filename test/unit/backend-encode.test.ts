/**
 * The built-in backend's encoder (src/backend/encode.ts) on real sharp, judged by the bytes it
 * writes: AVIF's `ftypavif` brand, a JPEG's frame marker (SOF0 baseline, SOF2 progressive), a
 * WebP's first chunk (VP8 lossy, VP8L lossless); and `effort`, which changes the bytes of a
 * lossless output but never its pixels.
 */
import sharp from "sharp";
import { describe, expect, test } from "vitest";
import { encoded, sharpEffort } from "../../src/backend/encode.js";
import { ignoredEncoderParams } from "../../src/cli/batch/rendition-key.js";
import type { ImageOptions, OutputType } from "../../src/protocol/operations.js";
import { makeJpeg } from "../helpers/images.js";

const photo = makeJpeg(240, 160);
const write = async (type: OutputType, o: ImageOptions = {}): Promise<Buffer> =>
  encoded(sharp(await photo), type, o).toBuffer();

/** The JPEG's frame marker: 0xc0 (baseline) or 0xc2 (progressive), found by walking its segments. */
function jpegFrame(jpeg: Buffer): number | undefined {
  for (let at = 2; at + 4 <= jpeg.length; at += 2 + jpeg.readUInt16BE(at + 2)) {
    if (jpeg[at] !== 0xff) return undefined;
    const marker = jpeg[at + 1] ?? 0;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return marker;
  }
  return undefined;
}
const webpChunk = (webp: Buffer): string => webp.subarray(12, 16).toString("latin1");
const pixels = async (image: Buffer): Promise<Buffer> => sharp(image).removeAlpha().raw().toBuffer();

describe("output bytes", () => {
  test("AVIF is an ISO BMFF file of brand avif", async () => {
    const avif = await write("avif");
    expect(avif.subarray(4, 12).toString("latin1")).toBe("ftypavif");
    expect(await sharp(avif).metadata()).toMatchObject({ format: "heif", compression: "av1", width: 240 });
  });

  test("JPEG is baseline (SOF0) unless interlace or mozjpeg asks for progressive (SOF2)", async () => {
    const [baseline, interlaced, mozjpeg] = await Promise.all([
      write("jpeg"),
      write("jpeg", { interlace: true }),
      write("jpeg", { mozjpeg: true }),
    ]);
    expect(jpegFrame(baseline)).toBe(0xc0);
    expect(jpegFrame(interlaced)).toBe(0xc2);
    // mozjpeg's scan optimisation is progressive; its trellis quantisation makes other bytes.
    expect(jpegFrame(mozjpeg)).toBe(0xc2);
    expect(mozjpeg.equals(interlaced)).toBe(false);
  });

  test("WebP is VP8 (lossy) unless lossless asks for VP8L, whose pixels are the input's", async () => {
    const [lossy, lossless] = await Promise.all([write("webp"), write("webp", { lossless: true })]);
    expect(webpChunk(lossy)).toBe("VP8 ");
    expect(webpChunk(lossless)).toBe("VP8L");
    expect((await pixels(lossless)).equals(await pixels(await photo))).toBe(true);
  });

  test("lossless AVIF keeps the input's pixels; lossy does not", async () => {
    const [lossy, lossless] = await Promise.all([write("avif"), write("avif", { lossless: true })]);
    const input = await pixels(await photo);
    expect((await pixels(lossless)).equals(input)).toBe(true);
    expect((await pixels(lossy)).equals(input)).toBe(false);
  });

  test("interlace makes an interlaced PNG; lossless and mozjpeg change nothing in a PNG", async () => {
    const [plain, interlaced, asked] = await Promise.all([
      write("png"),
      write("png", { interlace: true }),
      write("png", { lossless: true, mozjpeg: true }),
    ]);
    // IHDR's last byte is the interlace method: 0 none, 1 Adam7.
    expect([plain[28], interlaced[28]]).toEqual([0, 1]);
    expect(asked.equals(plain)).toBe(true);
  });
});

describe("effort", () => {
  test.each(["webp", "avif"] as const)("changes a lossless %s's bytes, never its pixels", async (type) => {
    const [fastest, smallest] = await Promise.all([
      write(type, { lossless: true, effort: 0 }),
      write(type, { lossless: true, effort: 9 }),
    ]);
    expect(fastest.equals(smallest)).toBe(false);
    expect(smallest.length).toBeLessThan(fastest.length);
    expect((await pixels(fastest)).equals(await pixels(smallest))).toBe(true);
  });

  test("is each encoder's own scale: AVIF 0-9, WebP 0-6, palette PNG 1-10, clamped; none for JPEG, TIFF", () => {
    expect([0, 4, 9, 12, -3].map((e) => sharpEffort("avif", e, false))).toEqual([0, 4, 9, 9, 0]);
    expect([0, 3, 6, 9].map((e) => sharpEffort("webp", e, false))).toEqual([0, 2, 4, 6]);
    expect([0, 6, 9].map((e) => sharpEffort("png", e, true))).toEqual([1, 7, 10]);
    // sharp's PNG effort would turn quantisation on: a PNG without palette has no effort.
    expect(sharpEffort("png", 9, false)).toBeUndefined();
    expect([sharpEffort("jpeg", 9, false), sharpEffort("tiff", 9, false)]).toEqual([undefined, undefined]);
    expect(sharpEffort("avif", undefined, false)).toBeUndefined();
  });

  test("leaves a PNG without palette unquantised", async () => {
    const [plain, effortful] = await Promise.all([write("png"), write("png", { effort: 0 })]);
    expect(effortful.equals(plain)).toBe(true);
    expect((await sharp(effortful).metadata()).isPalette).toBe(false);
  });
});

describe("the encoder params each format ignores (rendition-key.ts leaves them out of its keys)", () => {
  // A param listed as ignored that changed a byte would let a changed flag skip an output it changes.
  const values: Record<string, ImageOptions> = {
    quality: { quality: 30 },
    compression: { compression: 1 },
    interlace: { interlace: true },
    palette: { palette: true },
    mozjpeg: { mozjpeg: true },
    lossless: { lossless: true },
    effort: { effort: 0 },
  };
  const cases = Object.entries(ignoredEncoderParams).flatMap(([type, params]) =>
    params.map((param) => [type as OutputType, param] as const),
  );

  test.each(cases)("%s ignores %s: the same bytes", async (type, param) => {
    const given = values[param];
    if (given === undefined) throw new Error(`no value to try for ${param}`);
    expect((await write(type, given)).equals(await write(type))).toBe(true);
  });

  test("and every listed param changes some format's bytes: the lists leave nothing out needlessly", async () => {
    const changes = async (param: string) => {
      for (const type of Object.keys(ignoredEncoderParams) as OutputType[]) {
        if (ignoredEncoderParams[type].includes(param)) continue;
        const given = { ...values[param], ...(param === "effort" ? { palette: true } : {}) };
        const base = param === "effort" ? { palette: true } : {};
        if (!(await write(type, given)).equals(await write(type, base))) return true;
      }
      return false;
    };
    for (const param of Object.keys(values)) expect(await changes(param), param).toBe(true);
  });
});
