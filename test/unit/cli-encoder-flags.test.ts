/**
 * `process`'s encoder flags (src/cli/encoder-flags.ts) as commander parses them, the params they
 * put on every step (batch/plan.ts), and what imaginary, the aci provider's backend, cannot honour
 * of them (batch/backend-formats.ts).
 */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { imaginaryIgnores, imaginaryRefusal } from "../../src/cli/batch/backend-formats.js";
import { planRequest, StepCollector } from "../../src/cli/batch/plan.js";
import { addEncoderFlags } from "../../src/cli/encoder-flags.js";
import { parseOutputType } from "../../src/cli/flags.js";
import { AciimgError } from "../../src/errors.js";

/** The collector after commander parsed `args`, with --keep-metadata so queries show only what the flags add. */
function parsed(args: string[]): StepCollector {
  const steps = new StepCollector();
  steps.keepMetadata = true;
  const command = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  addEncoderFlags(command, steps);
  command.parse(args, { from: "user" });
  return steps;
}

describe("the flags", () => {
  it("are params of the built-in backend, --progressive imaginary's interlace", () => {
    expect(parsed(["--progressive", "--mozjpeg", "--lossless", "--effort", "9"]).encoder).toEqual({
      interlace: true,
      mozjpeg: true,
      lossless: true,
      effort: 9,
    });
    expect(parsed([]).encoder).toEqual({});
  });

  it("--effort takes 0 to 9, naming the flag and the range otherwise", () => {
    expect(parsed(["--effort", "0"]).encoder).toEqual({ effort: 0 });
    for (const bad of ["10", "-1", "fast"]) {
      expect(() => parsed(["--effort", bad])).toThrow(
        new AciimgError("E_USAGE", `--effort: expected a whole number from 0 to 9 such as 6, got "${bad}"`),
      );
    }
  });

  it("--type and -o names take avif", () => {
    expect(parseOutputType("--type", "AVIF")).toBe("avif");
  });
});

describe("the plan", () => {
  it("puts them on every step, beside the type: each step encodes", () => {
    const steps = parsed(["--mozjpeg", "--progressive"]);
    steps.add("resize", { width: 300 });
    steps.add("blur", { sigma: 2 });
    const plan = planRequest(steps);
    const { op, query } = plan.requestFor("jpeg");
    expect(op).toBe("pipeline");
    expect(JSON.parse(query.get("operations") ?? "").map((s: { params: unknown }) => s.params)).toEqual([
      { width: 300, interlace: true, mozjpeg: true, type: "jpeg", background: "255,255,255" },
      { sigma: 2, interlace: true, mozjpeg: true, type: "jpeg", background: "255,255,255" },
    ]);
  });

  it("takes AVIF with the flags as a conversion; the flags alone are not one (convert needs a type)", () => {
    const avif = parsed(["--lossless", "--effort", "4"]);
    avif.type = "avif";
    const { op, query } = planRequest(avif).requestFor("avif");
    expect([op, Object.fromEntries(query)]).toEqual(["convert", { type: "avif", lossless: "true", effort: "4" }]);
    expect(() => planRequest(parsed(["--mozjpeg"]))).toThrow(/nothing to do/);
  });
});

describe("on imaginary (the aci provider)", () => {
  it("AVIF is refused, whichever type asks for it, naming WebP and the local provider", () => {
    expect(imaginaryRefusal(["webp", "avif"], {})).toBe(
      "imaginary (the aci provider) cannot write AVIF: use --type webp (or -o NAME.webp), " +
        "or the local provider (--provider local) for AVIF",
    );
    expect(imaginaryRefusal(["jpeg", "png", "webp", "tiff", undefined], { interlace: true })).toBeUndefined();
  });

  it("--lossless is refused where a WebP may be written: imaginary would write it lossy", () => {
    const refusal =
      "--lossless: imaginary (the aci provider) writes lossy WebP only; " +
      "use --type png for lossless output, or the local provider (--provider local)";
    expect(imaginaryRefusal(["webp"], { lossless: true })).toBe(refusal);
    expect(imaginaryRefusal([undefined], { lossless: true })).toBe(refusal);
    expect(imaginaryRefusal(["png"], { lossless: true })).toBeUndefined();
  });

  it("--mozjpeg and --effort are warned about: the outputs are what was asked, larger", () => {
    expect(imaginaryIgnores({ mozjpeg: true })).toBe(
      "--mozjpeg: ignored by imaginary (the aci provider), which encodes with its defaults; " +
        "the local provider (--provider local) honours it",
    );
    expect(imaginaryIgnores({ mozjpeg: true, effort: 0, interlace: true })).toMatch(
      /^--mozjpeg and --effort: ignored by .* honours them$/,
    );
    expect(imaginaryIgnores({ interlace: true, lossless: true })).toBeUndefined();
  });
});
