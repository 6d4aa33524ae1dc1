/**
 * Expands `aciimg process` inputs (files, directories, globs) into a list of image files, each with
 * the path its output takes under an output directory. A missing file or an empty directory is a
 * failure of that input, reported with the batch, never a silent skip.
 */
import { stat } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { glob, isDynamicPattern } from "tinyglobby";
import { AciimgError } from "../errors.js";

/** Extensions a directory is searched for (formats the backend reads, imaginary-api.md §4). */
export const imageExtensions = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "gif", "avif", "heic", "heif", "svg"] as const;

export interface InputItem {
  /** Absolute path of the input file. */
  path: string;
  /** Path of the output relative to an output directory (keeps a directory's sub-folders). */
  relativeOutput: string;
  /** Found by searching a directory or a glob (not named on the command line). */
  found: boolean;
}

export interface InputFailure {
  input: string;
  error: AciimgError;
}

export interface Expansion {
  items: InputItem[];
  failures: InputFailure[];
}

/** Expands inputs relative to `cwd`; the same file named twice is processed once. */
export async function expandInputs(inputs: readonly string[], cwd: string): Promise<Expansion> {
  const items: InputItem[] = [];
  const failures: InputFailure[] = [];
  const seen = new Set<string>();
  const push = (path: string, relativeOutput: string, found: boolean): void => {
    if (seen.has(path)) return;
    seen.add(path);
    items.push({ path, relativeOutput, found });
  };

  for (const input of inputs) {
    const absolute = resolve(cwd, input);
    const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => error);
    if (!(info instanceof Error)) {
      if (info.isDirectory()) {
        const found = await glob(`**/*.{${imageExtensions.join(",")}}`, { cwd: absolute, absolute: true, caseSensitiveMatch: false, onlyFiles: true });
        if (found.length === 0) {
          failures.push({
            input,
            error: new AciimgError("E_BAD_INPUT", `no images in directory ${input} (looked for ${imageExtensions.map((e) => `*.${e}`).join(", ")}, also in sub-folders)`),
          });
        }
        for (const path of found.sort()) push(resolve(path), relative(absolute, path), true);
      } else {
        push(absolute, basename(absolute), false);
      }
      continue;
    }
    if (info.code === "ENOENT" && isDynamicPattern(input)) {
      const found = await glob(input, { cwd, absolute: true, onlyFiles: true });
      if (found.length === 0) failures.push({ input, error: new AciimgError("E_BAD_INPUT", `no files match ${input}`) });
      for (const path of found.sort()) push(resolve(path), basename(path), true);
      continue;
    }
    const reason = info.code === "ENOENT" ? "no such file or directory" : info.message;
    failures.push({ input, error: new AciimgError("E_BAD_INPUT", `cannot read input ${input}: ${reason}`, { cause: info }) });
  }
  return { items, failures };
}
