/**
 * Expands `aciimg process` inputs (files, folders, globs) into a list of image files, each with
 * the path its output takes under an output folder. What could not be searched or read is a
 * failure of that input, reported with the batch, never a silent skip.
 *
 * Two rules (docs/cli.md "aciimg process"): an input named on the command line is used as named,
 * symbolic link or not; links met while searching a folder or a glob are not followed unless
 * `followSymlinks` is set. Each real file is an input once, however many paths reach it.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from "node:path";
import { AciimgError } from "../../errors.js";
import { below, under } from "./paths.js";
import { identity, walk, type WalkResult } from "./walk.js";

/** Extensions a folder is searched for (formats the backend reads, docs/reference/imaginary-api.md §4). */
export const imageExtensions = [
  "jpg",
  "jpeg",
  "png",
  "webp",
  "tif",
  "tiff",
  "gif",
  "avif",
  "heic",
  "heif",
  "svg",
] as const;
const searchedExtensions = new Set<string>(imageExtensions.map((e) => `.${e}`));

export interface InputItem {
  /** Absolute path of the input file, as reached (through any links). */
  path: string;
  /** Where the bytes live: the path with every link resolved. */
  realPath: string;
  /** The directory entry a rename onto `path` would replace (links in its folders resolved, not the last one). */
  entry: string;
  /** Path of the output relative to an output folder (keeps a searched folder's sub-folders). */
  relativeOutput: string;
  /** Found by searching a folder or a glob (not named on the command line). */
  found: boolean;
}

export interface InputFailure {
  input: string;
  error: AciimgError;
}

export interface Expansion {
  items: InputItem[];
  failures: InputFailure[];
  /** Symbolic links passed by while searching (followSymlinks off). */
  linksNotFollowed: number;
}

export interface ExpandOptions {
  cwd: string;
  followSymlinks: boolean;
  /** A folder (device:inode) never searched: the output folder, whose files are earlier outputs. */
  outputFolder?: string;
}

/** Expands inputs; the same real file reached twice is processed once, under its first name. */
export async function expandInputs(inputs: readonly string[], options: ExpandOptions): Promise<Expansion> {
  const expansion: Expansion = { items: [], failures: [], linksNotFollowed: 0 };
  const seen = new Set<string>();
  const push = (item: InputItem): void => {
    if (seen.has(item.realPath)) return;
    seen.add(item.realPath);
    expansion.items.push(item);
  };
  const fail = (input: string, message: string, cause?: unknown): void => {
    expansion.failures.push({ input, error: new AciimgError("E_BAD_INPUT", message, { cause }) });
  };

  // Named files are looked at with synchronous calls, one after another as before: a shell glob
  // names hundreds, and three thread-pool round trips each cost more than the calls.
  const realFolders = new Map<string, string>();
  for (const input of inputs) {
    const absolute = resolve(options.cwd, input);
    const info = statOrError(absolute);
    if (info instanceof Error) {
      if (info.code === "ENOENT" && (await loadPicomatch()).scan(input).isGlob) {
        await searchGlob(input, options, expansion, push, fail);
      } else {
        fail(
          input,
          `cannot read input ${input}: ${info.code === "ENOENT" ? "no such file or directory" : info.message}`,
          info,
        );
      }
      continue;
    }
    if (info.isDirectory()) {
      const { found, unreadable } = await searchFolder(
        absolute,
        input,
        options,
        expansion,
        push,
        fail,
        isImageName,
        (rel) => !basename(rel).startsWith("."),
      );
      if (found === 0 && unreadable === 0) {
        fail(
          input,
          `no images in directory ${input} (looked for ${imageExtensions.map((e) => `*.${e}`).join(", ")}, ` +
            `also in sub-folders)`,
        );
      }
    } else if (info.isFile()) {
      const folder = dirname(absolute);
      const realFolder = realFolders.get(folder) ?? realpathSync.native(folder);
      realFolders.set(folder, realFolder);
      push({
        path: absolute,
        realPath: realpathSync.native(absolute),
        entry: join(realFolder, basename(absolute)),
        relativeOutput: basename(absolute),
        found: false,
      });
    } else {
      fail(input, `cannot read input ${input}: not a regular file (a device, pipe or socket; use - to read stdin)`);
    }
  }
  return expansion;
}

/** picomatch, loaded only for an input that does not exist: its load is ~7 ms of every other run's start-up. */
async function loadPicomatch(): Promise<typeof import("picomatch")> {
  return (await import("picomatch")).default;
}

function statOrError(path: string): Stats | NodeJS.ErrnoException {
  try {
    return statSync(path);
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
}

/** A folder search takes images by extension, any case, and passes by dot-files (our own temporaries among them). */
function isImageName(_relativePath: string, name: string): boolean {
  return !name.startsWith(".") && searchedExtensions.has(extname(name).toLowerCase());
}

/** A glob: searched from its static base (picomatch's scan), outputs keep the path below that base. */
async function searchGlob(
  input: string,
  options: ExpandOptions,
  expansion: Expansion,
  push: (item: InputItem) => void,
  fail: (input: string, message: string, cause?: unknown) => void,
): Promise<void> {
  const picomatch = await loadPicomatch();
  const { base, glob } = picomatch.scan(input);
  const root = resolve(options.cwd, base || ".");
  // Without regard to case, as a folder search takes extensions: cameras write IMG_0001.JPG, and
  // `'*.{jpg,png}'` should find it as it does on macOS and Windows.
  const matches = picomatch(glob, { dot: false, nocase: true });
  const isFolder = await stat(root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const { found, unreadable } = isFolder
    ? await searchFolder(root, base || ".", options, expansion, push, fail, (rel) => matches(rel), foldersFor(glob))
    : { found: 0, unreadable: 0 };
  if (found === 0 && unreadable === 0) fail(input, `no files match ${input}`);
}

/**
 * Which folders a glob can match inside, so `'*.jpg'` in a home folder reads one folder, not the
 * tree: without `**` no match lies deeper than the glob's slashes, and dot-folders are entered only
 * when the glob names one (picomatch's `dot: false`).
 */
function foldersFor(glob: string): (relativePath: string) => boolean {
  const unbounded = glob.includes("**");
  const maxDepth = glob.split("/").length - 1;
  const namesDot = glob.startsWith(".") || glob.includes("/.");
  return (relativePath) => {
    const parts = relativePath.split(sep);
    if (!unbounded && parts.length > maxDepth) return false;
    return namesDot || !parts.some((part) => part.startsWith("."));
  };
}

/**
 * Searches `root` (named `name` in messages); says how many files
 * it found (new or not) and how many folders it could not read.
 */
async function searchFolder(
  root: string,
  name: string,
  options: ExpandOptions,
  expansion: Expansion,
  push: (item: InputItem) => void,
  fail: (input: string, message: string, cause?: unknown) => void,
  accepts: (relativePath: string, name: string) => boolean,
  entersPath: (relativePath: string) => boolean,
): Promise<{ found: number; unreadable: number }> {
  const result: WalkResult = await walk(root, {
    followSymlinks: options.followSymlinks,
    accepts,
    enters: (rel, id) => id !== options.outputFolder && entersPath(rel),
  });
  expansion.linksNotFollowed += result.linksNotFollowed;
  for (const path of result.misnamed) {
    const shown = displayUnder(name, below(root, path));
    fail(
      shown,
      `cannot read ${shown}: its name is not valid UTF-8, ` +
        `and aciimg can open files only by UTF-8 names; rename it (convmv converts names from another encoding)`,
    );
  }
  for (const { path, error } of result.unreadable) {
    const shown = displayUnder(name, below(root, path));
    const what =
      error.code === "EACCES" || error.code === "EPERM"
        ? "permission denied"
        : error.code === "ENOENT"
          ? "a link to nothing"
          : error.message;
    fail(shown, `cannot search ${shown}: ${what}; images inside it were not processed`, error);
  }
  // Without links followed, a file's real path is its folder's real path plus the same name.
  const realRoot = await realpath(root);
  for (const path of result.files) {
    const rel = below(root, path);
    const realPath = options.followSymlinks ? await realpath(path) : realRoot === root ? path : under(realRoot, rel);
    const entry = options.followSymlinks ? join(await realpath(dirname(path)), basename(path)) : realPath;
    push({ path, realPath, entry, relativeOutput: rel, found: true });
  }
  return { found: result.files.length, unreadable: result.unreadable.length + result.misnamed.length };
}

/** `name/rel` as the person typed `name` (no `./` prefix for the working folder). */
function displayUnder(name: string, rel: string): string {
  if (rel === "") return name;
  if (name === "." || name === "") return rel;
  return isAbsolute(name) || !name.endsWith(sep) ? `${name}${sep}${rel}` : `${name}${rel}`;
}

/** The device:inode of a folder when it exists (the output folder, excluded from searches). */
export async function folderIdentity(path: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isDirectory() ? identity(info) : undefined;
}
