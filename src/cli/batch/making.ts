/**
 * How a batch's outputs are made beyond sending each image: named by --name, checked against the
 * incremental record and added to it as they are written, pruned, and listed in the manifest
 * (docs/cli.md "Renditions", "Incremental runs", "Manifest").
 */
import { dirname } from "node:path";
import type { RenditionCache } from "./cache/index.js";
import { openBatchCache, storeInCache } from "./cache-run.js";
import { AciimgError } from "../../errors.js";
import type { Config } from "../../config.js";
import { Ledger, type MadeOutput } from "./incremental.js";
import { fileVersion } from "./input-file.js";
import { imageHeader, producersOf } from "./input-facts.js";
import { writeManifest } from "./manifest.js";
import type { Job, Written } from "./one.js";
import type { OutputTarget } from "./output-plan.js";
import type { ImagePlan } from "./plan.js";
import { displayPath, type BatchOptions, type Making } from "./prepare.js";
import type { ProcessOptions } from "../commands/process.js";
import { loadRecord, saveRecord } from "./record.js";
import { hasSeveralOutputs, nameTemplateOf } from "./renditions.js";

/** A batch's making: what planBatch needs, the hook each written output goes through, and the end. */
export interface MakingRun {
  making: Making;
  /** The shared cache (--cache), when one is asked for. */
  cache: RenditionCache | undefined;
  /** Records an output written (by a backend, or from the cache: `fromCache`). */
  made: (job: Job, written: Written & { format?: string }, label: string | undefined) => Promise<void>;
  /** Records an output a backend wrote, and stores it in the cache. */
  onWritten: (job: Job, written: Written, label: string | undefined) => Promise<void>;
  /** What --prune would remove (displayed paths); empty without --prune. */
  pruning(): string[];
  /** Prunes (when asked and `isComplete`), then writes the record and the manifest, and closes the cache. */
  finish(isComplete: boolean): Promise<{ pruned: number }>;
}

/** Checks the flags against the target, reads the record, opens the cache, and sets up the making. */
export async function openMaking(
  plan: ImagePlan,
  options: BatchOptions,
  target: OutputTarget,
  config: Config,
  warn: (text: string) => void,
  cwd: string,
): Promise<MakingRun> {
  const template = nameTemplateOf(plan, options.filename);
  if (target.kind === "file" && hasSeveralOutputs(plan))
    throw new AciimgError("E_USAGE", "-o/--output: several outputs of each input need a folder, such as -o out/");
  for (const [flag, isGiven] of [
    ["--manifest", options.manifest !== undefined],
    ["--prune", options.prune === true],
  ] as const) {
    if (isGiven && target.kind !== "folder")
      throw new AciimgError("E_USAGE", `${flag} needs -o to be a folder, such as -o out/`);
  }
  const ledger = target.kind === "folder" ? new Ledger(target.root, loadRecord(target.root, warn)) : undefined;
  const listsSizes = (plan.sizes?.values.length ?? 0) > 1 || /\{(width|height)\}/.test(template ?? "");
  const making: Making = {
    ledger,
    producers: producersOf(config),
    template,
    withSize: options.manifest !== undefined || (plan.sizes?.resizesSource === true && (listsSizes || plan.upscale)),
    withFacts: ledger !== undefined,
  };
  // A dry run looks at nothing it would not write: no cache.
  const cache = options.dryRun ? undefined : await openBatchCache(options, config, warn, cwd);
  if (cache) making.withFacts = true;
  const recordMade = async (job: Job, written: Written & { format?: string }, label: string | undefined) => {
    if (job.keys === undefined) return undefined;
    const size: { width?: number; height?: number; format?: string } =
      written.width === undefined ? await imageHeader(job.output, false) : written;
    const key = label === "local" ? (job.keys.local ?? job.keys.main) : job.keys.main;
    const version = fileVersion(job.output);
    const entry = {
      key,
      format: written.format ?? size.format ?? job.type ?? "unknown",
      width: size.width ?? 0,
      height: size.height ?? 0,
      bytes: written.bytes,
      hash: written.hash,
      ...(version === undefined ? {} : { version }),
    };
    ledger?.made(job.relativeInput, job.output, entry);
    return entry;
  };
  const made = async (job: Job, written: Written & { format?: string }, label: string | undefined) => {
    await recordMade(job, written, label);
  };
  const onWritten = async (job: Job, written: Written, label: string | undefined): Promise<void> => {
    const entry = await recordMade(job, written, label);
    if (cache && entry) await storeInCache(cache, job, { ...written, ...entry }, entry.key);
  };
  const finish = async (isComplete: boolean): Promise<{ pruned: number }> => {
    await cache?.close();
    if (ledger === undefined) return { pruned: 0 };
    let pruned: MadeOutput[] = [];
    if (options.prune && isComplete) pruned = ledger.prune(warn).removed;
    try {
      // Nothing made and nothing recorded before: no record, so a folder nothing went to stays empty.
      // Nor is one rewritten that says what it said (an unchanged re-run writes nothing).
      const next = ledger.nextRecord(pruned);
      if (next !== undefined) saveRecord(ledger.root, next);
    } catch (error) {
      warn(`cannot write the incremental record in ${ledger.root}: ${(error as Error).message}`);
    }
    if (options.manifest !== undefined) writeManifest(options.manifest, ledger, dirname(options.manifest));
    return { pruned: pruned.length };
  };
  const pruning = (): string[] =>
    options.prune && ledger ? ledger.prunable().flatMap((o) => (o.isOurs ? [displayPath(o.path)] : [])) : [];
  return { making, cache, made, onWritten, finish, pruning };
}

/** `process -`: one image in, one out; the flags that need a folder of outputs are usage errors. */
export function checkedForStdin(plan: ImagePlan, options: BatchOptions | ProcessOptions): ImagePlan {
  if (hasSeveralOutputs(plan))
    throw new AciimgError(
      "E_USAGE",
      "-: stdin gives one output; several (a --width or --type list) need files and -o DIR",
    );
  const given = ["filename", "manifest", "prune", "dryRun", "cache", "upscale"].filter(
    (flag) => options[flag as keyof ProcessOptions] !== undefined,
  );
  if (given.length > 0) {
    const flags = given.map((flag) => `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(", ");
    throw new AciimgError("E_USAGE", `-: ${flags} need files and -o DIR, not stdin`);
  }
  return plan;
}
