/**
 * The flags of `aciimg process`. Operation flags feed a StepCollector in command-line order, so
 * `--crop 300x300 --blur 2` is a crop then a blur (one /pipeline request). Kept apart from the
 * command's action so `--help` and flag errors cost no engine import.
 */
import { type Command, Option } from "commander";
import { outputTypes } from "../../protocol/output-types.js";
import { parseColour } from "../colour.js";
import { parseInteger, parseOutputTypes } from "../flags.js";
import { parseBytes } from "../../units.js";
import { addOperationFlags } from "../operation-flags.js";
import { addEncoderFlags } from "../encoder-flags.js";
import { StepCollector } from "../batch/plan.js";

export interface ProcessOptions {
  output?: string;
  concurrency?: number;
  skipExisting?: boolean;
  followSymlinks?: boolean;
  backends?: string;
  withLocal?: boolean;
  allowSvgFilters?: boolean;
  failOn?: string;
  filename?: string;
  upscale?: boolean;
  manifest?: string;
  force?: boolean;
  prune?: boolean;
  dryRun?: boolean;
  cache?: string;
  cacheMax?: number;
}

/** Registers `process` on `program`; `run` receives the inputs, options and collected operations. */
export function addProcessCommand(
  program: Command,
  run: (inputs: string[], options: ProcessOptions, steps: StepCollector, command: Command) => Promise<number>,
  setExitCode: (code: number) => void,
): void {
  const steps = new StepCollector();
  const command = program
    .command("process")
    .description("process images: files, directories, globs, or - (stdin to stdout)")
    .argument("<inputs...>", "image files, directories, globs, or - for stdin")
    .option("-o, --output <path>", "output file, or directory (created if missing)");
  addOperationFlags(command, steps);
  addEncoderFlags(command, steps);
  command
    .option(
      "--type <FORMAT>",
      `output format: ${spokenList(outputTypes)}; a list (webp,jpeg) makes one output of each`,
      (v: string) => (steps.types = parseOutputTypes("--type", v)),
    )
    .addOption(
      new Option("--format <FORMAT>", "same as --type").argParser(
        (v: string) => (steps.types = parseOutputTypes("--format", v)),
      ),
    )
    .option(
      "--quality <1-100>",
      "JPEG/WebP/AVIF quality",
      (v: string) => (steps.quality = parseInteger("--quality", v, 1, 100, "80")),
    )
    .option("--keep-metadata", "keep EXIF (camera, GPS), XMP and the ICC profile (default: stripped)")
    .on("option:keep-metadata", () => (steps.keepMetadata = true))
    .option(
      "--background <COLOUR>",
      "flatten transparency onto this colour: white, #fff, #ffffff or 255,255,255 (default: white for JPEG)",
      (v: string) => ((steps.background = parseColour("--background", v)), v),
    )
    .option("--op <NAME>", "any imaginary operation (repeatable; in order)", (v: string) => (steps.op(v), v))
    .option("--param <KEY=VALUE>", "a parameter of the preceding --op (repeatable)", (v: string) => (steps.param(v), v))
    .option("--concurrency <N>", "images in flight (default: 2 per backend CPU)", (v: string) =>
      parseInteger("--concurrency", v, 1, 256, "4"),
    )
    .option(
      "--backends <N>",
      "aci: a pool of up to N container groups, each billed, used at once (default 1; env ACIIMG_BACKENDS)",
    )
    .option(
      "--with-local",
      "aci: the built-in local backend works from the first second, " +
        "beside the groups as they start (env ACIIMG_WITH_LOCAL)",
    )
    .option("--allow-svg-filters", "aci: send SVGs with filters anyway (env ACIIMG_ALLOW_SVG_FILTERS)")
    .option(
      "--fail-on <LEVEL>",
      "damage that fails an input: none, truncated, error or warning (default warning; env ACIIMG_FAIL_ON)",
    )
    .option(
      "--filename <TEMPLATE>",
      "output names in a folder: {name} {ext} {width} {height} {hash} " +
        "(default {name}-{width}w.{ext} for a --width list)",
    )
    .option("--upscale", "make sizes past an input's own by enlarging it (default: at its own size, once)")
    .on("option:upscale", () => (steps.upscale = true))
    .option("--manifest <FILE>", "write a JSON manifest of every input and its outputs (for srcset markup)")
    .option("--force", "redo every output, even those the incremental record says are up to date")
    .option("--prune", "remove outputs this command made before whose input is gone or no longer asks for them")
    .option("--dry-run", "list what would be written and what is up to date; start nothing, write nothing")
    .option("--cache <DIR|azblob:URL>", "a shared cache of renditions: a folder, or azblob:<container URL>")
    .option("--cache-max <SIZE>", "the cache folder's size bound, such as 2GiB (default 1GiB)", (v: string) =>
      parseBytes(v, "--cache-max"),
    )
    .option("--skip-existing", "keep any output file already there, unchecked (the incremental record checks content)")
    .option(
      "--follow-symlinks",
      "follow symbolic links met while searching folders and globs (named inputs are always used as named)",
    )
    .addHelpText(
      "after",
      `
Several operations become one /pipeline request, applied in the order given.
Outputs are written to a temporary file and renamed: a failure leaves nothing partial.
A folder's outputs are incremental: a re-run redoes only what changed (.aciimg-record.json records what was made).
Exit status: 0 when every file succeeded, 1 when any failed, 2 for a bad flag.

Examples:
  $ aciimg process photo.jpg --resize 300x200 -o out/
  $ aciimg process photos/ --width 320,640,1280 --type webp,jpeg -o web/ --manifest web/images.json
  $ aciimg process photos/ --fit 1024x1024 --type webp --quality 80 -o web/
  $ aciimg process 'shots/**/*.png' --smartcrop 200x200 -o thumbs/ --skip-existing
  $ aciimg process photo.jpg --crop 800x800 --blur 2 --type webp -o blurred.webp
  $ aciimg process photo.jpg --op zoom --param factor=2 -o zoomed.jpg
  $ cat photo.jpg | aciimg process - --thumbnail 150 > thumb.jpg
  $ aciimg process photos/ --resize 300x200 -o out/ --json | jq -c 'select(.status=="failed")'`,
    )
    .action(async (inputs: string[], options: ProcessOptions, cmd: Command) => {
      setExitCode(await run(inputs, options, steps, cmd));
    });
}

/** ["a", "b", "c"] → "a, b or c". */
function spokenList(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1) as string}`;
}
