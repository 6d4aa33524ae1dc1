import { describe, expect, it } from "vitest";
import { AciimgError } from "../../src/errors.js";
import { colourParam, parseColour } from "../../src/cli/colour.js";

describe("--background colours", () => {
  it("accepts names, #rgb, #rrggbb and R,G,B, in any case and with spaces after commas", () => {
    for (const text of ["white", "WHITE", "#fff", "#FFFFFF", "255,255,255", " 255, 255, 255 "]) {
      expect(parseColour("--background", text), text).toEqual([255, 255, 255]);
    }
    expect(parseColour("--background", "#ff0000")).toEqual([255, 0, 0]);
    expect(parseColour("--background", "#0a8")).toEqual([0, 170, 136]);
    expect(parseColour("--background", "grey")).toEqual([128, 128, 128]);
    expect(colourParam(parseColour("--background", "#102030"))).toBe("16,32,48");
  });

  it("refuses anything else with a usage error naming the accepted forms", () => {
    const refused = ["", "#ffff", "#ggg", "256,0,0", "1,2", "1,2,3,4", "rgba(0,0,0,0)", "transparent", "constructor"];
    for (const text of refused) {
      let error: unknown;
      try {
        parseColour("--background", text);
      } catch (caught) {
        error = caught;
      }
      expect(error, text).toBeInstanceOf(AciimgError);
      expect((error as AciimgError).code).toBe("E_USAGE");
      const accepted = "a colour such as white, #fff, #ffffff or 255,255,255";
      expect((error as AciimgError).message).toBe(`--background: expected ${accepted}, got ${JSON.stringify(text)}`);
    }
  });
});
