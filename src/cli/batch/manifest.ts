/**
 * `process --manifest FILE` (docs/cli.md "Manifest"): one entry per input of the run, its content
 * hash and size, with every output it has now (made this run, fetched, or up to date): path,
 * width, height, format, bytes and hash. Sorted by path, so an unchanged run writes the same file;
 * written atomically at the end of the run, stopped or not, so it always describes files on disk.
 */
import { relative, sep } from "node:path";
import { AciimgError } from "../../errors.js";
import type { Ledger } from "./incremental.js";
import { inPieces, writeFileAtomically } from "./outputs.js";

/** The manifest's shape (version 1). */
export interface Manifest {
  aciimg: "manifest";
  version: 1;
  /** The output folder, relative to the manifest's folder: where output paths start. */
  outputRoot: string;
  inputs: Array<{
    /** Relative to the folder or glob it was found under (its own name, when named). */
    path: string;
    hash: string;
    bytes: number;
    width?: number;
    height?: number;
    format?: string;
    outputs: Array<{ path: string; width: number; height: number; format: string; bytes: number; hash: string }>;
  }>;
}

/**
 * Writes the manifest of `ledger`'s inputs to `path`, whose folder is `folder`: the text
 * JSON.stringify(manifest, null, 2) would make, made and written an entry at a time.
 */
export function writeManifest(path: string, ledger: Ledger, folder: string): void {
  const root = relative(folder, ledger.root).split(sep).join("/") || ".";
  const head: Omit<Manifest, "inputs"> = { aciimg: "manifest", version: 1, outputRoot: root };
  const inputs = ledger.entries().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  try {
    writeFileAtomically(path, inPieces(manifestText(head, inputs)), 0o644);
  } catch (error) {
    throw new AciimgError("E_OUTPUT", `cannot write the manifest ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The manifest's text, entry by entry: what JSON.stringify(manifest, null, 2) makes, written out
 * field by field (a manifest of 10,000 inputs, stringified and indented one entry at a time, made
 * four times its size in strings to collect).
 */
function* manifestText(head: Omit<Manifest, "inputs">, inputs: ReturnType<Ledger["entries"]>): Generator<string> {
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  yield `{${fields(head, "  ")},\n  "inputs": [`;
  for (const [index, [input, { facts, outputs }]] of inputs.entries()) {
    const { hash, bytes } = facts;
    const size = facts.width === undefined ? {} : { width: facts.width, height: facts.height, format: facts.format };
    const inputFields = fields({ path: input, hash, bytes, ...size }, "      ");
    let text = `${index === 0 ? "" : ","}\n    {${inputFields},\n      "outputs": [`;
    const sorted = outputs.length < 2 ? outputs : [...outputs].sort(byPath);
    for (const [at, { path, width, height, format, bytes, hash }] of sorted.entries()) {
      const fieldsText = fields({ path, width, height, format, bytes, hash }, "          ");
      text += `${at === 0 ? "" : ","}\n        {${fieldsText}\n        }`;
    }
    yield `${text}${outputs.length === 0 ? "" : "\n      "}]\n    }`;
  }
  yield `${inputs.length === 0 ? "" : "\n  "}]\n}\n`;
}

/** An object's fields as JSON.stringify(…, null, 2) writes them at `indent`, undefined ones left out. */
function fields(object: Record<string, string | number | undefined>, indent: string): string {
  let text = "";
  for (const [key, value] of Object.entries(object))
    if (value !== undefined)
      text += `${text === "" ? "" : ","}\n${indent}${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  return text;
}
