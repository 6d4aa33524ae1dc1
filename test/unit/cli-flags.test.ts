import { describe, expect, it } from "vitest";
import { AciimgError } from "../../src/errors.js";
import {
  parseInteger,
  parseOutputType,
  parseParam,
  parsePositive,
  parseRotation,
  parseSize,
} from "../../src/cli/flags.js";
import { outputName } from "../../src/cli/batch/outputs.js";
import { progressText } from "../../src/cli/batch/report.js";

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AciimgError);
    expect((error as AciimgError).code).toBe("E_USAGE");
    expect((error as AciimgError).exitCode).toBe(2);
    return (error as AciimgError).message;
  }
  throw new Error("expected a usage error");
}

describe("flag values", () => {
  it("parses WxH sizes", () => {
    expect(parseSize("--resize", "300x200")).toEqual({ width: 300, height: 200 });
    expect(parseSize("--fit", " 1024X768 ")).toEqual({ width: 1024, height: 768 });
  });

  it("names the flag, the accepted form and the value for a malformed size", () => {
    expect(usageMessage(() => parseSize("--resize", "300by200"))).toBe(
      '--resize: expected WxH such as 300x200, got "300by200"',
    );
    expect(usageMessage(() => parseSize("--crop", "0x200"))).toContain("--crop: expected WxH");
  });

  it("rejects quality 0 and 101 and accepts 1..100", () => {
    expect(usageMessage(() => parseInteger("--quality", "0", 1, 100, "80"))).toBe(
      '--quality: expected a whole number from 1 to 100 such as 80, got "0"',
    );
    expect(() => parseInteger("--quality", "101", 1, 100, "80")).toThrow(/--quality/);
    expect(() => parseInteger("--quality", "8.5", 1, 100, "80")).toThrow(/--quality/);
    expect(parseInteger("--quality", "100", 1, 100, "80")).toBe(100);
  });

  it("accepts rotations imaginary performs and nothing else", () => {
    expect(parseRotation("--rotate", "270")).toBe(270);
    expect(usageMessage(() => parseRotation("--rotate", "45"))).toContain("90, 180 or 270");
  });

  it("accepts positive sigmas", () => {
    expect(parsePositive("--blur", "1.5", "1.5")).toBe(1.5);
    expect(() => parsePositive("--blur", "-1", "1.5")).toThrow(/--blur/);
  });

  it("normalises output types and their aliases", () => {
    expect(parseOutputType("--type", "JPG")).toBe("jpeg");
    expect(parseOutputType("--type", "tif")).toBe("tiff");
    expect(usageMessage(() => parseOutputType("--type", "gif"))).toContain("one of jpeg, png, webp, tiff");
  });

  it("splits KEY=VALUE params", () => {
    expect(parseParam("--param", "factor=2")).toEqual(["factor", "2"]);
    expect(parseParam("--param", "text=a=b")).toEqual(["text", "a=b"]);
    expect(usageMessage(() => parseParam("--param", "=2"))).toContain("KEY=VALUE");
  });
});

describe("output names", () => {
  it("keeps the name without a type and swaps the extension with one", () => {
    expect(outputName("photo.jpg", undefined)).toBe("photo.jpg");
    expect(outputName("photo.jpg", "webp")).toBe("photo.webp");
    expect(outputName("sub/photo.PNG", "jpeg")).toBe("sub/photo.jpg");
    expect(outputName("photo.jpeg", "jpeg")).toBe("photo.jpeg");
    expect(outputName("raw", "png")).toBe("raw.png");
  });
});

describe("progress line", () => {
  it("shows done/total, rate, ETA and failures", () => {
    expect(progressText(10, 40, 2, 5000)).toBe("10/40 · 2.0 img/s · ETA 15s · 2 failed");
    expect(progressText(40, 40, 0, 4000)).toBe("40/40 · 10.0 img/s");
  });
});
