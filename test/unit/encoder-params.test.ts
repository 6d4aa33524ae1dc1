/**
 * aciimg's extension to imaginary's query (src/protocol/encoder.ts, output-types.ts): by imaginary's
 * rules `type=avif` is still its 400 and `mozjpeg`, `lossless` and `effort` are unknown params,
 * ignored; by the built-in backend's rules they are coerced as imaginary coerces its own, in a
 * query and in a pipeline step.
 */
import { describe, expect, test } from "vitest";
import {
  parseImageOptions,
  parsePipeline,
  validateRequest,
  type Dialect,
  type ImageOptions,
} from "../../src/protocol/operations.js";

const q = (s: string) => new URLSearchParams(s);
const parsed = (s: string, dialect: Dialect): ImageOptions => {
  const r = parseImageOptions(q(s), dialect);
  if (!r.ok) throw new Error(r.message);
  return r.value;
};
const steps = (operations: unknown[], dialect: Dialect) => {
  const r = parsePipeline(JSON.stringify(operations), dialect);
  if (!r.ok) throw new Error(r.message);
  return r.value.map((step) => step.params);
};

describe("by imaginary's rules", () => {
  test("type=avif is imaginary's 400, on every route that reads params", () => {
    expect(parseImageOptions(q("type=avif"))).toEqual({
      ok: false,
      status: 400,
      message: "Unsupported output image format",
    });
    expect(validateRequest("convert", q("type=avif"))).toMatchObject({ ok: false, status: 400 });
  });
  test("mozjpeg, lossless and effort are unknown params, ignored however they are written", () => {
    expect(parsed("type=webp&mozjpeg=yes&lossless=true&effort=abc", "imaginary")).toEqual({ type: "webp" });
  });
  test("a pipeline step's type=avif is dropped, as imaginary's step encodes in its input's format", () => {
    expect(steps([{ operation: "convert", params: { type: "avif", lossless: true } }], "imaginary")).toEqual([{}]);
  });
});

describe("by the built-in backend's rules", () => {
  test("type=avif is an output type; imaginary's own types and refusals are unchanged", () => {
    expect(parsed("type=AVIF", "built-in").type).toBe("avif");
    expect(parsed("type=webp", "built-in").type).toBe("webp");
    expect(parseImageOptions(q("type=heif"), "built-in")).toMatchObject({
      ok: false,
      message: "Unsupported output image format",
    });
    expect(validateRequest("convert", q("type=avif"), "built-in")).toMatchObject({ ok: true });
  });
  test("mozjpeg and lossless are Go bools, effort a Go int (|float| rounded)", () => {
    expect(parsed("mozjpeg=1&lossless=True&effort=-6.6", "built-in")).toEqual({
      mozjpeg: true,
      lossless: true,
      effort: 7,
    });
    expect(parsed("mozjpeg=&lossless=f", "built-in")).toEqual({ mozjpeg: false, lossless: false });
  });
  test("a malformed value is a 400 in imaginary's wording, naming the param", () => {
    expect(parseImageOptions(q("lossless=yes"), "built-in")).toEqual({
      ok: false,
      status: 400,
      message:
        "Error while processing parameters, " +
        'error while processing parameter "lossless" with value "yes", error: unsupported value',
    });
    expect(parseImageOptions(q("effort=max"), "built-in")).toMatchObject({
      ok: false,
      message: expect.stringContaining('parameter "effort" with value "max", error: strconv.ParseFloat'),
    });
  });
  test("a pipeline step keeps its AVIF type and encoder params, JSON-typed", () => {
    const operations = [
      { operation: "resize", params: { width: 300, type: "avif", effort: 9, lossless: true } },
      { operation: "convert", params: { type: "jpeg", mozjpeg: "true", interlace: true } },
    ];
    expect(steps(operations, "built-in")).toEqual([
      { width: 300, type: "avif", effort: 9, lossless: true },
      { type: "jpeg", mozjpeg: true, interlace: true },
    ]);
  });
});
