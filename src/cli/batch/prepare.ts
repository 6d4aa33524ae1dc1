/**
 * Everything `process` decides before a backend is woken: the inputs found, the outputs of each
 * (renditions.ts), which of them are up to date (incremental.ts), and a check of every file to send.
 */
import { stat } from "node:fs/promises";
import { realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { below } from "./paths.js";
import { AciimgError } from "../../errors.js";
import type { ProcessOptions } from "../commands/process.js";
import { checkedFile } from "./input-file.js";
import { inputFactsOf, unchangedFacts, type InputFacts } from "./input-facts.js";
import { renditionKey } from "./rendition-key.js";
import { expandInputs, folderIdentity, type InputItem } from "./inputs.js";
import type { Ledger } from "./incremental.js";
import type { Job } from "./one.js";
import { planOutputs, type OutputTarget, type WantedOutput } from "./output-plan.js";
import { defaultTypeOf, outputTypeOfFile } from "./output-types.js";
import type { ImagePlan } from "./plan.js";
import { renditionName, renditionsOf, type PlannedRendition } from "./renditions.js";
import type { FileResult } from "./report.js";

/** The flags that shape the planning, and whether SVG inputs are screened (config.ts screensSvg). */
export type BatchOptions = ProcessOptions & { screenSvg: boolean };

/** How the outputs are made and named: the record, the producers, the --name template. */
export interface Making {
  /** This run's ledger (incremental.ts), for a folder target; undefined: every output is made. */
  ledger: Ledger | undefined;
  /** The backend kinds that may make an output (input-facts.ts producersOf). */
  producers: { main: string; local: string | undefined };
  template: string | undefined;
  /** Read each input's displayed size (sizes settled against it, the manifest). */
  withSize: boolean;
  /** Read each input's content hash (the record, the manifest, the cache). */
  withFacts: boolean;
}

/** What planBatch decided. */
export type PlannedBatch = Awaited<ReturnType<typeof planBatch>>;

/** An output wanted, with what its job needs. */
interface Wanted {
  rendition: PlannedRendition;
  relativeInput: string;
  keys: { main: string; local: string | undefined } | undefined;
  identity: string;
}

/**
 * Everything decided before a backend is woken: the inputs found, their outputs, and a check of
 * every file to send. `early` holds the outputs already settled (failed, skipped, up to date);
 * `pending` the files to send, each checked, so a batch of only broken files costs nothing (on
 * ACI, a billed container), and a batch with everything up to date starts nothing.
 */
export async function planBatch(
  inputs: string[],
  target: OutputTarget,
  plan: ImagePlan,
  options: BatchOptions,
  cwd: string,
  making: Making,
): Promise<{ early: FileResult[]; pending: Job[]; linksNotFollowed: number; inputs: number; bytesIn: number }> {
  const expansion = await expandInputs(inputs, {
    cwd,
    followSymlinks: options.followSymlinks === true,
    outputFolder: target.kind === "folder" ? await folderIdentity(target.root) : undefined,
  });
  if (options.manifest !== undefined) refuseManifestOnInput(resolve(cwd, options.manifest), expansion.items);
  const early: FileResult[] = expansion.failures.map(({ input, error }) => failed(input, null, error));
  const wanted: WantedOutput<Wanted>[] = [];
  let bytesIn = 0;
  // Inputs the record knows unchanged (unchangedFacts): read, and checked as a file to send, only
  // when one of their outputs must be made: an unchanged re-run of thousands opens none of them.
  const unread = new Map<InputItem, AciimgError | "checked" | undefined>();
  for (const item of expansion.items) {
    const input = displayPath(item.path);
    const recorded = making.ledger?.recorded(item.relativeOutput);
    const known = making.withFacts ? unchangedFacts(item.realPath, recorded, making.withSize) : undefined;
    if (known) {
      unread.set(item, undefined);
      bytesIn += known.facts.bytes;
      wanted.push(...wantedOf(item, plan, making, known.identity, known.facts));
      continue;
    }
    // By the real path, links resolved when the inputs were found: what the file is now is what
    // every later open must find.
    const checked = checkedFile(item.realPath, input, undefined, options.screenSvg);
    if (checked instanceof AciimgError) {
      early.push(failed(input, null, checked));
      continue;
    }
    bytesIn += checked.size;
    let facts: InputFacts | undefined;
    try {
      if (making.withFacts) facts = await inputFactsOf(item.realPath, checked.identity, recorded, making.withSize);
    } catch (error) {
      early.push(
        failed(input, null, new AciimgError("E_BAD_INPUT", `cannot read ${input}: ${(error as Error).message}`)),
      );
      continue;
    }
    wanted.push(...wantedOf(item, plan, making, checked.identity, facts));
  }
  const { planned, refused } = await planOutputs(expansion.items, wanted, target, displayPath);
  for (const { item, output, reason } of refused) {
    const error = new AciimgError("E_OUTPUT", `refusing to write ${displayPath(output)}: ${reason}`);
    early.push(failed(displayPath(item.path), displayPath(output), error));
  }
  const pending: Job[] = [];
  for (const { item, output, type, direct, extra } of planned) {
    const input = displayPath(item.path);
    const shownOutput = displayPath(output);
    const { rendition, relativeInput, keys, identity } = extra;
    if (options.skipExisting && !direct && (await isNonEmptyFile(output))) {
      early.push({ input, output: shownOutput, status: "skipped", ms: 0 });
      continue;
    }
    const current = keys && !options.force ? making.ledger?.upToDate(relativeInput, output, keyList(keys)) : undefined;
    if (current !== undefined) {
      making.ledger?.made(relativeInput, output, current);
      const { bytes, width, height, hash } = current;
      early.push({ input, output: shownOutput, status: "up-to-date", bytes, width, height, hash, ms: 0 });
      continue;
    }
    if (unread.has(item)) {
      // Its first output to make: the check every file to send gets, once per input.
      let problem = unread.get(item);
      if (problem === undefined) {
        const checked = checkedFile(item.realPath, input, identity, options.screenSvg);
        problem = checked instanceof AciimgError ? checked : "checked";
        unread.set(item, problem);
      }
      if (problem !== "checked") {
        early.push(failed(input, shownOutput, problem));
        continue;
      }
    }
    const { size, enlarge } = rendition;
    pending.push({
      input,
      realPath: item.realPath,
      identity,
      output,
      shownOutput,
      type,
      direct,
      relativeInput,
      ...(size === undefined ? {} : { size }),
      ...(enlarge === undefined ? {} : { enlarge }),
      ...(keys ? { keys } : {}),
    });
  }
  return { early, pending, linksNotFollowed: expansion.linksNotFollowed, inputs: expansion.items.length, bytesIn };
}

/** The outputs wanted of one input, named, with their keys; the input noted in the ledger. */
function wantedOf(
  item: InputItem,
  plan: ImagePlan,
  making: Making,
  identity: string,
  facts: InputFacts | undefined,
): WantedOutput<Wanted>[] {
  // The input's own format, when no --type names one: as read with its size, else sniffed from its start.
  const ownType =
    plan.outputTypes.length === 0
      ? (defaultTypeOf(facts?.format) ?? outputTypeOfFile(undefined, item.realPath))
      : undefined;
  const source = facts?.width === undefined ? undefined : { width: facts.width, height: facts.height as number };
  const renditions = renditionsOf(plan, ownType, source);
  const relativeInput = item.relativeOutput;
  const wanted = renditions.map((rendition): WantedOutput<Wanted> => {
    const request = plan.requestFor(rendition.type, rendition.size, rendition.enlarge);
    const { main, local } = making.producers;
    const keys = facts && {
      main: renditionKey(facts.hash, request, main),
      local: local === undefined || local === main ? undefined : renditionKey(facts.hash, request, local),
    };
    const name = renditionName(making.template, relativeInput, rendition, keys?.main);
    return { item, name, type: rendition.type, extra: { rendition, relativeInput, keys, identity } };
  });
  const { ledger } = making;
  if (facts && ledger)
    ledger.addInput(
      relativeInput,
      facts,
      wanted.map((w) => w.name),
    );
  return wanted;
}

/** The manifest is written over no input, whichever way either is reached. */
function refuseManifestOnInput(manifest: string, items: readonly InputItem[]): void {
  let real = manifest;
  try {
    real = realpathSync.native(manifest);
  } catch {
    // Not there yet: its name is what it will be.
  }
  const input = items.find((item) => item.realPath === real || item.entry === manifest || item.path === manifest);
  if (input !== undefined)
    throw new AciimgError("E_USAGE", `--manifest: ${displayPath(manifest)} is an input (${displayPath(input.path)})`);
}

function keyList(keys: { main: string; local: string | undefined }): string[] {
  return keys.local === undefined ? [keys.main] : [keys.main, keys.local];
}

function isNonEmptyFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile() && s.size > 0,
    () => false,
  );
}

/** A path as people read it: relative to the working directory when inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = below(process.cwd(), path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

function failed(input: string, output: string | null, error: AciimgError): FileResult {
  return { input, output, status: "failed", ms: 0, code: error.code, error: error.message };
}
