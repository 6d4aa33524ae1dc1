/**
 * `process --manifest FILE` (docs/cli.md "Manifest"): one entry per input of the run, its content
 * hash and size, with every output it has now (made this run, fetched, or up to date): path,
 * width, height, format, bytes and hash. Sorted by path, so an unchanged run writes the same file;
 * written atomically at the end of the run, stopped or not, so it always describes files on disk.
 */
import { relative, sep } from "node:path";
import { AciimgError } from "../../errors.js";
import type { Ledger } from "./incremental.js";
import { writeFileAtomically } from "./outputs.js";

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

/** Writes the manifest of `ledger`'s inputs to `path`, whose folder is `folder`. */
export function writeManifest(path: string, ledger: Ledger, folder: string): void {
  const byPath = <T extends { path: string }>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const inputs = ledger
    .entries()
    .map(([input, { facts, outputs }]) => ({
      path: input,
      hash: facts.hash,
      bytes: facts.bytes,
      ...(facts.width === undefined ? {} : { width: facts.width, height: facts.height, format: facts.format }),
      outputs: [...outputs.values()]
        .map(({ path, width, height, format, bytes, hash }) => ({ path, width, height, format, bytes, hash }))
        .sort(byPath),
    }))
    .sort(byPath);
  const root = relative(folder, ledger.root).split(sep).join("/") || ".";
  const manifest: Manifest = { aciimg: "manifest", version: 1, outputRoot: root, inputs };
  try {
    writeFileAtomically(path, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 0o644);
  } catch (error) {
    throw new AciimgError("E_OUTPUT", `cannot write the manifest ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
