/**
 * What `process` may ask that imaginary (the aci provider's backends, a pool with --with-local
 * included) cannot honour, said before any work. AVIF output and aciimg's encoder params are the
 * built-in backend's extensions (src/protocol/encoder.ts); `--progressive` is imaginary's own
 * `interlace`, and works on both.
 *
 * Refused: AVIF, which imaginary answers with 400 "Unsupported output image format" and, in a
 * pipeline step, writes in the input's format instead (docs/reference/imaginary-api.md §4), so an
 * `x.avif` would hold a JPEG; and `--lossless` for WebP, which imaginary ignores, writing lossy
 * WebP: other pixels than asked for. Warned: `--mozjpeg` and `--effort`, which only shape the
 * bytes; imaginary ignores them and writes what was asked, in larger files.
 */
import { builtInOnlyTypes } from "../../protocol/output-types.js";
import type { CliOutputType } from "../flags.js";
import type { Config } from "../../config.js";
import { AciimgError } from "../../errors.js";
import type { StepCollector } from "./plan.js";

type EncoderParams = Readonly<Record<string, string | number | boolean>>;

const aci = "imaginary (the aci provider)";
const local = "the local provider (--provider local)";

/**
 * Why imaginary cannot write outputs of `types` (undefined: an input's own format) with `encoder`'s
 * params, naming what to do instead; undefined when it can.
 */
export function imaginaryRefusal(
  types: readonly (CliOutputType | undefined)[],
  encoder: EncoderParams,
): string | undefined {
  const builtInOnly = types.find((type) => type !== undefined && builtInOnlyTypes.includes(type));
  if (builtInOnly !== undefined) {
    const name = builtInOnly.toUpperCase();
    return `${aci} cannot write ${name}: use --type webp (or -o NAME.webp), or ${local} for ${name}`;
  }
  // PNG is lossless anyway, and JPEG and TIFF have no lossless mode on either backend.
  const mayBeWebp = types.some((type) => type === undefined || type === "webp");
  if (encoder.lossless === true && mayBeWebp) {
    return `--lossless: ${aci} writes lossy WebP only; use --type png for lossless output, or ${local}`;
  }
  return undefined;
}

/** The flags of `encoder` imaginary ignores, as one warning; undefined when there are none. */
export function imaginaryIgnores(encoder: EncoderParams): string | undefined {
  const ignored = [
    ...(encoder.mozjpeg === true ? ["--mozjpeg"] : []),
    ...(encoder.effort !== undefined ? ["--effort"] : []),
  ];
  if (ignored.length === 0) return undefined;
  const [flags, them] = ignored.length === 1 ? [ignored[0], "it"] : [ignored.join(" and "), "them"];
  return `${flags}: ignored by ${aci}, which encodes with its defaults; ${local} honours ${them}`;
}

/** On aci (imaginary), what it cannot write is a usage error before any work, what it ignores a warning. */
export function checkImaginaryCan(config: Config, steps: StepCollector): void {
  if (config.provider !== "aci") return;
  const refusal = imaginaryRefusal(steps.types.length === 0 ? [undefined] : steps.types, steps.encoder);
  if (refusal) throw new AciimgError("E_USAGE", refusal);
  const ignored = imaginaryIgnores(steps.encoder);
  if (ignored) process.stderr.write(`aciimg: warning: ${ignored}\n`);
}
