/**
 * Where each output of `aciimg process` goes, decided before any backend is woken. Two promises
 * hold here (docs/cli.md "aciimg process"): no output is written to a path that resolves (realpath)
 * to an input, whichever way either is reached; and no two inputs write the same file.
 */
import { realpathSync } from "node:fs";
import { mkdir, access, constants, lstat, realpath, rmdir, stat } from "node:fs/promises";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import { AciimgError, isAciimgError, usageError } from "../../errors.js";
import type { CliOutputType } from "../flags.js";
import type { InputItem } from "./inputs.js";
import { refuseUntrustedLinks } from "./output-links.js";
import { fileIdentityOf } from "../../protocol/file-identity.js";
import { extensionOf, nameMaxBytes, type InPlace } from "./outputs.js";
import { diskError } from "./disk-full.js";
import { outputLockName } from "./output-lock.js";
import { recordName } from "./record.js";
import { below, under } from "./paths.js";

export type OutputTarget =
  | { kind: "folder"; root: string }
  /** `direct`: an existing device or pipe (`/dev/null`), written in place: it cannot be renamed onto. */
  | { kind: "file"; path: string; direct: InPlace | undefined };

/** ".jpg" → "jpeg", ".tif" → "tiff", …: what a file name says it holds. */
const typeOfExtension: Record<string, CliOutputType> = Object.fromEntries(
  Object.entries(extensionOf).flatMap(([type, extensions]) =>
    extensions.map((extension) => [`.${extension}`, type as CliOutputType]),
  ),
);

/**
 * What `-o` names. A folder when it ends in `/`, is one, has no extension, or the inputs need one
 * (several, a folder, a glob) and its extension is not an image's; else a file.
 */
export async function outputTargetOf(output: string, inputs: readonly string[], cwd: string): Promise<OutputTarget> {
  const { path, info, saysFolder, direct } = await lookAt(output, cwd);
  const only = inputs.length === 1 ? await stat(resolve(cwd, inputs[0] as string)).catch(() => undefined) : undefined;
  const needsFolder = only === undefined || only.isDirectory();
  if (saysFolder) return { kind: "folder", root: path };
  if (info !== undefined) {
    if (needsFolder)
      throw usageError(
        "-o/--output",
        "a folder when the inputs are several files, a folder or a glob",
        `${output} (an existing file)`,
      );
    return { kind: "file", path, direct };
  }
  const extension = extname(path);
  // `-o thumbs.jpg` for a folder of inputs made a folder named thumbs.jpg: an image file's name is
  // a mistake there. (One input that is not there and no glob fails as missing, not here.)
  const isMissingFile = only === undefined && inputs.length === 1 && !/[*?[\]{}]/.test(inputs[0] as string);
  if (needsFolder && !isMissingFile && typeOfExtension[extension.toLowerCase()] !== undefined) {
    throw usageError(
      "-o/--output",
      "a folder when the inputs are several files, a folder or a glob (end it with / to make a folder of that name)",
      `${output} (a file name)`,
    );
  }
  return extension === "" || needsFolder ? { kind: "folder", root: path } : { kind: "file", path, direct: undefined };
}

/** What `-o` names for `process -`: always a file, since stdin has no name to give a file in a folder. */
export async function stdinTargetOf(output: string, cwd: string): Promise<Extract<OutputTarget, { kind: "file" }>> {
  const { path, saysFolder, direct } = await lookAt(output, cwd);
  if (saysFolder)
    throw usageError(
      "-o/--output",
      "a file for the image read from stdin, such as out/photo.jpg (stdin has no name to give a file in a folder)",
      output,
    );
  return { kind: "file", path, direct };
}

async function lookAt(output: string, cwd: string) {
  const path = resolve(cwd, output);
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  const isDevice = info !== undefined && !info.isFile() && !info.isDirectory();
  const isNamedLink = isDevice && (await lstat(path).catch(() => undefined))?.isSymbolicLink() === true;
  const direct: InPlace | undefined = isDevice ? { identity: fileIdentityOf(info), isNamedLink } : undefined;
  const saysFolder = output.endsWith("/") || output.endsWith(sep) || info?.isDirectory() === true;
  return { path, info, saysFolder, direct };
}

/**
 * The output format a file target asks for: `-o x.webp` means WebP. A name that contradicts
 * `--type`, or an extension aciimg cannot write, is a usage error: bytes never contradict the name.
 */
export function outputTypeFor(
  target: OutputTarget,
  asked: CliOutputType | undefined,
  output: string,
): CliOutputType | undefined {
  if (target.kind === "folder") return asked;
  const extension = extname(target.path).toLowerCase();
  if (extension === "") return asked;
  const named = typeOfExtension[extension];
  if (named === undefined) {
    throw usageError(
      "-o/--output",
      `a file name ending in ${Object.keys(typeOfExtension).join(", ")} (the formats aciimg writes), or a folder`,
      output,
    );
  }
  if (asked !== undefined && asked !== named) {
    throw new AciimgError(
      "E_USAGE",
      `-o/--output: ${output} names a ${named} file but --type asks for ${asked}: change the name or the type`,
    );
  }
  return named;
}

export interface PlannedOutput {
  item: InputItem;
  output: string;
  /** The format written, which the output's name says in a folder (output-types.ts); undefined: the input's. */
  type: CliOutputType | undefined;
  /** Write in place (a device or pipe) instead of a temporary file and a rename. */
  direct: InPlace | undefined;
}

/** An output wanted of an input: its name in the output folder (renditions.ts) and its format. */
export interface WantedOutput<T> {
  item: InputItem;
  /** Relative to the output folder; unused for a file target. */
  name: string;
  type: CliOutputType | undefined;
  /** What the caller carries along with it (its rendition). */
  extra: T;
}

export interface RefusedOutput {
  item: InputItem;
  output: string;
  reason: string;
}

/**
 * Places each wanted output, refusing any whose path resolves to an input (its real file or its
 * directory entry) or that another output already takes. Paths are compared after resolving every
 * link in their folders, so `reallink/p.jpg` and `real/p.jpg` are one file.
 */
export async function planOutputs<T>(
  items: readonly InputItem[],
  wanted: readonly WantedOutput<T>[],
  target: OutputTarget,
  display: (path: string) => string,
): Promise<{ planned: Array<PlannedOutput & { extra: T }>; refused: RefusedOutput[] }> {
  const inputByPath = new Map<string, InputItem>();
  for (const item of items) {
    inputByPath.set(item.realPath, item);
    inputByPath.set(item.entry, item);
  }
  const folders = new Map<string, Promise<string>>();
  const planned: Array<PlannedOutput & { extra: T }> = [];
  const refused: RefusedOutput[] = [];
  const taken = new Map<string, InputItem>();
  for (const { item, name, type, extra } of wanted) {
    const output = target.kind === "folder" ? under(target.root, name) : target.path;
    const entry = join(await resolvedFolder(dirname(output), folders), basename(output));
    // An existing output that is a link to an input resolves onto it too.
    const real = target.kind === "file" && target.direct ? output : realPathOr(output, entry);
    const input = inputByPath.get(entry) ?? inputByPath.get(real);
    const other = taken.get(entry);
    const nameBytes = Buffer.byteLength(basename(output));
    const reason =
      input === item
        ? "the output would overwrite the input"
        : input !== undefined
          ? `${display(output)} is also an input (${display(input.path)})`
          : other !== undefined
            ? `${display(other.path)} already writes there`
            : nameBytes > nameMaxBytes
              ? `its name is ${nameBytes} bytes long, more than the ${nameMaxBytes} a file name can hold`
              : target.kind === "folder" && reservedNames.includes(below(target.root, output))
                ? "that name is aciimg's own, in the output folder"
                : undefined;
    if (reason) {
      refused.push({ item, output, reason });
      continue;
    }
    taken.set(entry, item);
    planned.push({ item, output, type, direct: target.kind === "file" ? target.direct : undefined, extra });
  }
  return { planned, refused };
}

/** Names in the output folder that are aciimg's: its lock and its incremental record. */
const reservedNames = [outputLockName, recordName];

/**
 * `path` with every link resolved, or `fallback` when it does not resolve (synchronous: one call per output, in turn).
 */
function realPathOr(path: string, fallback: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return fallback;
  }
}

/** A folder's path with every link resolved; folders that do not exist yet keep their names. */
function resolvedFolder(folder: string, cache: Map<string, Promise<string>>): Promise<string> {
  let resolved = cache.get(folder);
  if (!resolved) {
    resolved = realpath(folder).catch((error: NodeJS.ErrnoException) => {
      const parent = dirname(folder);
      // Not there yet: created later, under its parent's real path. Unusable (ENOTDIR, EACCES):
      // kept as named, and prepareFolders says why it cannot be written.
      if (error.code !== "ENOENT" || parent === folder) return folder;
      return resolvedFolder(parent, cache).then((real) => join(real, basename(folder)));
    });
    cache.set(folder, resolved);
  }
  return resolved;
}

/**
 * Creates the output folders and checks they are writable, before a backend is started; `inPlace`
 * are the devices or pipes written where they are, whose folders are not made. Refuses any reached
 * through another user's link in a sticky folder (output-links.ts), looked at before mkdir, which
 * would follow it, and again after, for a link put in meanwhile. Resolves with the folders it
 * created, so removeEmptyFolders can take back the ones nothing was written to.
 */
export async function prepareFolders(folders: Iterable<string>, inPlace: Iterable<string> = []): Promise<string[]> {
  for (const device of inPlace) await refuseUntrustedLinks(device);
  const created: string[] = [];
  for (const folder of folders) {
    try {
      await refuseUntrustedLinks(folder);
      created.push(...(await makeFolders(folder)));
      await refuseUntrustedLinks(folder);
      await access(folder, constants.W_OK);
    } catch (error) {
      await removeEmptyFolders(created);
      if (isAciimgError(error)) throw error;
      const doing = `cannot write to output directory ${folder}`;
      throw (
        diskError(doing, error) ??
        new AciimgError("E_OUTPUT", `${doing}: ${(error as Error).message}`, { cause: error })
      );
    }
  }
  return created;
}

/**
 * `mkdir -p`, one folder at a time; resolves with the folders it made. Node's recursive mkdir
 * reports the failure of its last look (a stat: ENOENT) in place of mkdir's own: a read-only file
 * system read "no such file or directory", not EROFS.
 */
async function makeFolders(folder: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = folder; ; dir = dirname(dir)) {
    const isMissing = await stat(dir).then(
      () => false,
      (error: NodeJS.ErrnoException) => error.code === "ENOENT",
    );
    if (!isMissing || dirname(dir) === dir) break;
    missing.unshift(dir);
  }
  const made: string[] = [];
  for (const dir of missing) {
    try {
      await mkdir(dir);
      made.push(dir);
    } catch (error) {
      // Made by another run meanwhile: a folder is a folder; anything else, the next mkdir says.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  return made;
}

/** Removes the folders this run created that are still empty, deepest first; others stay. */
export async function removeEmptyFolders(created: readonly string[]): Promise<void> {
  for (const folder of [...new Set(created)].sort((a, b) => b.length - a.length)) {
    await rmdir(folder).catch(() => undefined);
  }
}
