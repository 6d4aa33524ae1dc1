/**
 * Everything `process` decides before a backend is woken: the inputs found, the output of each,
 * and a check of every file to send.
 */
import { stat } from "node:fs/promises";
import { isAbsolute, relative } from "node:path";
import { AciimgError } from "../../errors.js";
import type { ProcessOptions } from "../commands/process.js";
import { checkedFile } from "./input-file.js";
import { expandInputs, folderIdentity, type InputItem } from "./inputs.js";
import type { Job } from "./one.js";
import { planOutputs, type OutputTarget } from "./output-plan.js";
import { outputTypeOfFile } from "./output-types.js";
import type { ImagePlan } from "./plan.js";
import type { FileResult } from "./report.js";

/** The flags that shape the planning, and whether SVG inputs are screened (config.ts screensSvg). */
export type BatchOptions = ProcessOptions & { screenSvg: boolean };

/** What planBatch decided. */
export type PlannedBatch = Awaited<ReturnType<typeof planBatch>>;

/**
 * Everything decided before a backend is woken: the inputs found, their outputs, and a check of
 * every file to send. `early` holds the inputs already settled (failed or skipped); `pending` the
 * files to send, each checked, so a batch of only broken files costs nothing (on ACI, a billed
 * container).
 */
export async function planBatch(
  inputs: string[],
  target: OutputTarget,
  plan: ImagePlan,
  options: BatchOptions,
  cwd: string,
): Promise<{ early: FileResult[]; pending: Job[]; linksNotFollowed: number }> {
  const expansion = await expandInputs(inputs, {
    cwd,
    followSymlinks: options.followSymlinks === true,
    outputFolder: target.kind === "folder" ? await folderIdentity(target.root) : undefined,
  });
  const typeOf = (item: InputItem) => outputTypeOfFile(plan.outputType, item.realPath);
  const { planned, refused } = await planOutputs(expansion.items, target, typeOf, displayPath);
  const early: FileResult[] = [
    ...expansion.failures.map(({ input, error }) => failed(input, null, error)),
    ...refused.map(({ item, output, reason }) =>
      failed(
        displayPath(item.path),
        displayPath(output),
        new AciimgError("E_OUTPUT", `refusing to write ${displayPath(output)}: ${reason}`),
      ),
    ),
  ];
  const pending: Job[] = [];
  for (const { item, output, type, direct } of planned) {
    const input = displayPath(item.path);
    const shownOutput = displayPath(output);
    if (
      options.skipExisting &&
      !direct &&
      (await stat(output).then(
        (s) => s.isFile() && s.size > 0,
        () => false,
      ))
    ) {
      early.push({ input, output: shownOutput, status: "skipped", ms: 0 });
      continue;
    }
    // By the real path, links resolved when the inputs were found: what the file is now is what
    // every later open must find.
    const checked = checkedFile(item.realPath, input, undefined, options.screenSvg);
    if (checked instanceof AciimgError) early.push(failed(input, shownOutput, checked));
    else
      pending.push({
        input,
        realPath: item.realPath,
        identity: checked.identity,
        output,
        shownOutput,
        type,
        direct,
      });
  }
  return { early, pending, linksNotFollowed: expansion.linksNotFollowed };
}

/** A path as people read it: relative to the working directory when inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function failed(input: string, output: string | null, error: AciimgError): FileResult {
  return { input, output, status: "failed", ms: 0, code: error.code, error: error.message };
}
