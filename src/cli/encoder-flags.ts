/**
 * The encoder flags of `aciimg process`: how each output is compressed, not what is done to it.
 * `--progressive` is imaginary's `interlace`; `--mozjpeg`, `--lossless` and `--effort` are the
 * built-in backend's (src/protocol/encoder.ts), so on the aci provider backend-formats.ts refuses
 * or warns before any work. Each becomes a param of every step (batch/plan.ts): each step encodes.
 */
import type { Command } from "commander";
import { effortRange, type EncoderParamName } from "../protocol/encoder.js";
import type { StepCollector } from "./batch/plan.js";
import { parseInteger } from "./flags.js";

type EncoderParam = EncoderParamName | "interlace";

/** Adds --progressive, --mozjpeg, --lossless and --effort to `command`, feeding `steps.encoder`. */
export function addEncoderFlags(command: Command, steps: StepCollector): void {
  const set = (param: EncoderParam, value: boolean | number): void => {
    steps.encoder[param] = value;
  };
  const { min, max } = effortRange;
  command
    .option("--progressive", "progressive JPEG, interlaced PNG (imaginary's interlace)")
    .on("option:progressive", () => set("interlace", true))
    .option("--mozjpeg", "JPEG: mozjpeg's trellis quantisation and progressive scans, smaller files (local provider)")
    .on("option:mozjpeg", () => set("mozjpeg", true))
    .option("--lossless", "WebP and AVIF: lossless compression (local provider; PNG is always lossless)")
    .on("option:lossless", () => set("lossless", true))
    .option(
      `--effort <${min}-${max}>`,
      `WebP, AVIF and palette PNG encoder effort: ${min} fastest, ${max} smallest files (local provider)`,
      (v: string) => (set("effort", parseInteger("--effort", v, min, max, "6")), v),
    );
}
