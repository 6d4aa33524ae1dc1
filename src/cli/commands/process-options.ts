/**
 * The flags of `aciimg process`. Operation flags feed a StepCollector in command-line order, so
 * `--crop 300x300 --blur 2` is a crop then a blur (one /pipeline request). Kept apart from the
 * command's action so `--help` and flag errors cost no engine import.
 */
import { Command, Option } from "commander";
import { parseInteger, parseOutputType, parsePositive, parseRotation, parseSize } from "../flags.js";
import { StepCollector } from "../plan.js";

export interface ProcessOptions {
  output?: string;
  concurrency?: number;
  skipExisting?: boolean;
  followSymlinks?: boolean;
}

/** Registers `process` on `program`; `run` receives the inputs, options and collected operations. */
export function addProcessCommand(
  program: Command,
  run: (inputs: string[], options: ProcessOptions, steps: StepCollector, command: Command) => Promise<number>,
  setExitCode: (code: number) => void,
): void {
  const steps = new StepCollector();
  const size = (flag: string, operation: "resize" | "crop" | "smartcrop" | "fit") => (value: string) => {
    steps.add(operation, parseSize(flag, value));
    return value;
  };
  const command = program
    .command("process")
    .description("process images: files, directories, globs, or - (stdin to stdout)")
    .argument("<inputs...>", "image files, directories, globs, or - for stdin")
    .option("-o, --output <path>", "output file, or directory (created if missing)")
    .option("--resize <WxH>", "resize to fit WxH, extending to exactly WxH (imaginary /resize)", size("--resize", "resize"))
    .option("--width <N>", "resize to N pixels wide", (v: string) => (steps.dimension("width", parseInteger("--width", v, 1, 100000, "300")), v))
    .option("--height <N>", "resize to N pixels high", (v: string) => (steps.dimension("height", parseInteger("--height", v, 1, 100000, "200")), v))
    .option("--crop <WxH>", "crop to WxH around the centre", size("--crop", "crop"))
    .option("--smartcrop <WxH>", "crop to WxH around the most interesting area", size("--smartcrop", "smartcrop"))
    .option("--fit <WxH>", "shrink to fit inside WxH, keeping the aspect ratio", size("--fit", "fit"))
    .option("--thumbnail <N>", "thumbnail N pixels wide", (v: string) => (steps.add("thumbnail", { width: parseInteger("--thumbnail", v, 1, 100000, "150") }), v))
    .option("--rotate <DEG>", "rotate by 90, 180 or 270 degrees", (v: string) => (steps.add("rotate", { rotate: parseRotation("--rotate", v) }), v))
    .option("--flip", "mirror vertically (imaginary's flip)")
    .option("--flop", "mirror horizontally (imaginary's flop)")
    .option("--blur <SIGMA>", "Gaussian blur with this sigma", (v: string) => (steps.add("blur", { sigma: parsePositive("--blur", v, "1.5") }), v))
    .option("--type <FORMAT>", "output format: jpeg, png, webp or tiff", (v: string) => (steps.type = parseOutputType("--type", v)))
    .addOption(new Option("--format <FORMAT>", "same as --type").argParser((v: string) => (steps.type = parseOutputType("--format", v))))
    .option("--quality <1-100>", "JPEG/WebP quality", (v: string) => (steps.quality = parseInteger("--quality", v, 1, 100, "80")))
    .option("--op <NAME>", "any imaginary operation (repeatable; in order)", (v: string) => (steps.op(v), v))
    .option("--param <KEY=VALUE>", "a parameter of the preceding --op (repeatable)", (v: string) => (steps.param(v), v))
    .option("--concurrency <N>", "images in flight (default: 2 per backend CPU)", (v: string) => parseInteger("--concurrency", v, 1, 256, "4"))
    .option("--skip-existing", "skip inputs whose output already exists (resume a batch)")
    .option("--follow-symlinks", "follow symbolic links met while searching folders and globs (named inputs are always used as named)")
    .addHelpText(
      "after",
      `
Several operations become one /pipeline request, applied in the order given.
Outputs are written to a temporary file and renamed: a failure leaves nothing partial.
Exit status: 0 when every file succeeded, 1 when any failed, 2 for a bad flag.

Examples:
  $ aciimg process photo.jpg --resize 300x200 -o out/
  $ aciimg process photos/ --fit 1024x1024 --type webp --quality 80 -o web/
  $ aciimg process 'shots/**/*.png' --smartcrop 200x200 -o thumbs/ --skip-existing
  $ aciimg process photo.jpg --crop 800x800 --blur 2 --type webp -o blurred.webp
  $ aciimg process photo.jpg --op zoom --param factor=2 -o zoomed.jpg
  $ cat photo.jpg | aciimg process - --thumbnail 150 > thumb.jpg
  $ aciimg process photos/ --resize 300x200 -o out/ --json | jq -c 'select(.status=="failed")'`,
    )
    .action(async (inputs: string[], options: ProcessOptions & { flip?: boolean; flop?: boolean }, cmd: Command) => {
      setExitCode(await run(inputs, options, steps, cmd));
    });
  // --flip/--flop take no value, so their place in the order comes from the option events.
  command.on("option:flip", () => steps.add("flip", { flip: true }));
  command.on("option:flop", () => steps.add("flop", { flop: true }));
}
