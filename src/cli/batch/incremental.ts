/**
 * Incremental runs (docs/cli.md "Incremental runs"): which planned outputs are up to date, and the
 * record written at the end. An output is up to date when the record says it was made for the same
 * key (input content, request, backend: input-facts.ts) and the file there is still the one
 * written: the same version, or else the same bytes (a CI cache restores files with new times).
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, lstatSync, openSync, unlinkSync } from "node:fs";
import { join, sep } from "node:path";
import { below } from "./paths.js";
import { readFullySync } from "../../read-fully.js";
import { fileVersion, inputFlags, pieceBytes } from "./input-file.js";
import type { InputFacts } from "./input-facts.js";
import type { IncrementalRecord, RecordedInput, RecordedOutput } from "./record.js";

/** An output written (or found up to date) this run, as the record and the manifest keep it. */
export type MadeOutput = RecordedOutput;

/**
 * What this run learnt of one input: its facts, and its outputs as they stand now. Lists, not maps:
 * an input has a few outputs, and a run of 10,000 inputs held 20,000 maps and sets.
 */
interface InputLedger {
  facts: InputFacts;
  /** One per path. */
  outputs: MadeOutput[];
  /** Outputs this run asks for (made or not), by path: the others are the ones --prune removes. */
  asked: string[];
}

/** The run's account of inputs and outputs, from which the record and the manifest are written. */
export class Ledger {
  private readonly inputs = new Map<string, InputLedger>();
  /** Whether the record to write differs from the one read: else it is not written again. */
  private changed = false;

  constructor(
    readonly root: string,
    private readonly previous: IncrementalRecord,
  ) {}

  /** The record's entry of an input, by its path relative to its search root. */
  recorded(relativeInput: string): RecordedInput | undefined {
    return this.previous.get(posixPath(relativeInput));
  }

  /** An input of this run, with the outputs it asks for (their names in the output folder, normalised). */
  addInput(relativeInput: string, facts: InputFacts, asked: readonly string[]): void {
    const key = posixPath(relativeInput);
    const known = this.inputs.get(key);
    const names = asked.map(posixPath);
    if (known) known.asked.push(...names.filter((name) => !known.asked.includes(name)));
    else this.inputs.set(key, { facts, outputs: [], asked: names });
    const was = this.previous.get(key);
    const isSame =
      was !== undefined &&
      (["hash", "bytes", "version", "width", "height", "format"] as const).every((f) => was[f] === facts[f]);
    if (!isSame) this.changed = true;
  }

  /**
   * The recorded output at `output` (absolute) of that input when it was made for one of `keys`
   * and the file is still the one written; undefined when it must be made.
   */
  upToDate(relativeInput: string, output: string, keys: readonly string[]): MadeOutput | undefined {
    const path = this.relativeOutput(output);
    const recorded = this.recorded(relativeInput)?.outputs.find((o) => o.path === path);
    if (recorded === undefined || !keys.includes(recorded.key)) return undefined;
    const version = fileVersion(output);
    if (version === undefined) return undefined;
    if (version === recorded.version) return recorded;
    if (!isRegularFile(output) || hashOfFile(output, recorded.bytes) !== recorded.hash) return undefined;
    return outputOf(recorded.path, { ...recorded, version });
  }

  /**
   * An output of `relativeInput` that is now as `made` says (written, fetched, or found up to date:
   * then the recorded entry itself).
   */
  made(relativeInput: string, output: string, made: Omit<MadeOutput, "path"> & { path?: string }): void {
    const outputs = this.inputs.get(posixPath(relativeInput))?.outputs;
    const path = this.relativeOutput(output);
    if (outputs !== undefined) {
      const entry = made.path === path ? (made as MadeOutput) : outputOf(path, made);
      const at = outputs.findIndex((o) => o.path === path);
      if (at < 0) outputs.push(entry);
      else outputs[at] = entry;
    }
    const was = this.recorded(relativeInput)?.outputs.find((o) => o.path === path);
    const fields = ["key", "format", "width", "height", "bytes", "hash", "version"] as const;
    if (was === undefined || fields.some((f) => was[f] !== made[f])) this.changed = true;
  }

  /** This run's inputs, in the order found, with what was made of each: the manifest's content. */
  entries(): Array<[string, InputLedger]> {
    return [...this.inputs];
  }

  /**
   * Outputs the record holds that this run did not ask for: of inputs not found this run, or no
   * longer asked for by the flags. What --prune removes.
   */
  unasked(): MadeOutput[] {
    const left: MadeOutput[] = [];
    for (const [input, recorded] of this.previous) {
      const asked = this.inputs.get(input)?.asked;
      for (const output of recorded.outputs) if (!asked?.includes(output.path)) left.push(output);
    }
    return left;
  }

  /**
   * Removes the unasked outputs still as written (the same bytes); one changed since is left, and
   * said. Returns how many were removed.
   */
  prune(warn: (text: string) => void): { removed: MadeOutput[]; kept: MadeOutput[] } {
    const removed: MadeOutput[] = [];
    const kept: MadeOutput[] = [];
    for (const { output, path, isOurs } of this.prunable()) {
      if (!isOurs) {
        if (isRegularFile(path)) warn(`--prune: left ${path}: it changed since aciimg wrote it`);
        continue;
      }
      try {
        unlinkSync(path);
        removed.push(output);
      } catch (error) {
        warn(`--prune: cannot remove ${path}: ${(error as Error).message}`);
        kept.push(output);
      }
    }
    return { removed, kept };
  }

  /** The unasked outputs, each with its path and whether it is still as written (only those are removed). */
  prunable(): Array<{ output: MadeOutput; path: string; isOurs: boolean }> {
    return this.unasked().map((output) => {
      const path = join(this.root, ...output.path.split("/"));
      const isOurs =
        isRegularFile(path) && (fileVersion(path) === output.version || hashOfFile(path, output.bytes) === output.hash);
      return { output, path, isOurs };
    });
  }

  /**
   * The record to write: this run's inputs with what they have now (outputs not asked for kept
   * unless `pruned`), and the record's other inputs as they were (unless all their outputs went).
   * Undefined when it would say what the record read says (an unchanged re-run writes nothing and
   * builds nothing), or would be empty in a folder that had none.
   */
  nextRecord(pruned: readonly MadeOutput[]): IncrementalRecord | undefined {
    const gone = new Set(pruned.map((o) => o.path));
    let size = 0;
    for (const [input, recorded] of this.previous)
      if (!this.inputs.has(input) && this.remaining(recorded, gone).length > 0) size += 1;
    for (const [input, made] of this.inputs)
      if (made.outputs.length > 0 || this.kept(input, made, gone).length > 0) size += 1;
    const isNew = this.changed || pruned.length > 0 || size !== this.previous.size;
    if (!isNew || (size === 0 && this.previous.size === 0)) return undefined;
    const next: IncrementalRecord = new Map();
    for (const [input, recorded] of this.previous) {
      if (this.inputs.has(input)) continue;
      const outputs = this.remaining(recorded, gone);
      if (outputs.length > 0) next.set(input, outputs === recorded.outputs ? recorded : inputOf(recorded, outputs));
    }
    for (const [input, made] of this.inputs) {
      const kept = this.kept(input, made, gone);
      // An input with no output (every one failed) has nothing to keep up to date.
      if (made.outputs.length + kept.length > 0)
        next.set(input, inputOf(made.facts, kept.length === 0 ? made.outputs : [...made.outputs, ...kept]));
    }
    return next;
  }

  /** A recorded input's outputs that are not `gone` (the same list when none is). */
  private remaining(recorded: RecordedInput, gone: ReadonlySet<string>): MadeOutput[] {
    return gone.size === 0 ? recorded.outputs : recorded.outputs.filter((o) => !gone.has(o.path));
  }

  /** The recorded outputs of an input of this run that it no longer asks for and that are still there. */
  private kept(input: string, { outputs, asked }: InputLedger, gone: ReadonlySet<string>): MadeOutput[] {
    const recorded = this.previous.get(input)?.outputs ?? [];
    return recorded.filter(
      (o) => !asked.includes(o.path) && !gone.has(o.path) && !outputs.some((made) => made.path === o.path),
    );
  }

  /** `output` relative to the output folder, with / between folders. */
  relativeOutput(output: string): string {
    return posixPath(below(this.root, output));
  }
}

/** A made output, always built in this shape (see input-facts.ts factsOf). */
function outputOf(path: string, made: Omit<MadeOutput, "path">): MadeOutput {
  const { key, format, width, height, bytes, hash, version } = made;
  return { path, key, format, width, height, bytes, hash, version };
}

/** A recorded input, always built in this shape. */
function inputOf(facts: InputFacts, outputs: MadeOutput[]): RecordedInput {
  const { hash, bytes, version, width, height, format } = facts;
  return { hash, bytes, version, width, height, format, outputs };
}

function posixPath(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

/** sha256 of the file at `path` when it is `bytes` long (else undefined), opened as an input is. */
export function hashOfFile(path: string, bytes: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, inputFlags);
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size !== bytes) return undefined;
    const digest = createHash("sha256");
    const piece = Buffer.allocUnsafe(Math.min(pieceBytes, Math.max(bytes, 1)));
    for (let at = 0; at < bytes; ) {
      const read = readFullySync(fd, piece, at);
      if (read.length === 0) return undefined;
      digest.update(read);
      at += read.length;
    }
    return digest.digest("hex");
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
