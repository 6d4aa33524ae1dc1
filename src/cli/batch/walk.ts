/**
 * The folder search of `aciimg process`: every file under a root that a filter accepts, with the
 * folders that could not be read reported instead of skipped. Symbolic links met on the way are
 * not followed unless asked (as fd and ripgrep do); when they are, each real folder is entered
 * once, so a link loop ends and no file is found twice.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { below, under } from "./paths.js";

export interface WalkOptions {
  /** Follow symbolic links to folders and files (default: count them and pass by). */
  followSymlinks: boolean;
  /** Whether a file (by its path relative to the root) is wanted. */
  accepts(relativePath: string, name: string): boolean;
  /** Whether to look inside a folder below the root (by its path relative to the root, and its device:inode). */
  enters(relativePath: string, identity: string): boolean;
}

export interface WalkResult {
  /** Absolute paths of accepted files, in a stable (sorted) order. */
  files: string[];
  /** Folders (or followed links) that could not be read, with the reason. */
  unreadable: Array<{ path: string; error: NodeJS.ErrnoException }>;
  /** Symbolic links passed by because followSymlinks is off. */
  linksNotFollowed: number;
  /**
   * Files it would have accepted, and folders, whose names are not UTF-8 (a Latin-1 `café.jpg`
   * from an old archive): Node.js names paths with strings, so they cannot be opened, only reported.
   */
  misnamed: string[];
}

/** Walks `root` (already known to be a folder) breadth-first, each real folder at most once. */
export async function walk(root: string, options: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = { files: [], unreadable: [], linksNotFollowed: 0, misnamed: [] };
  const rootInfo = await stat(root);
  const entered = new Set<string>([identity(rootInfo)]);
  const folders = [root];
  for (let index = 0; index < folders.length; index++) {
    const folder = folders[index] as string;
    let entries: Dirent<Buffer>[];
    try {
      entries = await readdir(folder, { withFileTypes: true, encoding: "buffer" });
    } catch (error) {
      result.unreadable.push({ path: folder, error: error as NodeJS.ErrnoException });
      continue;
    }
    for (const entry of entries) {
      const name = entry.name.toString("utf8");
      const path = under(folder, name);
      // Bytes that are not UTF-8 decode to U+FFFD, and that string names no file.
      if (name.includes("\uFFFD") && !Buffer.from(name, "utf8").equals(entry.name)) {
        if (entry.isDirectory() || options.accepts(below(root, path), name)) result.misnamed.push(path);
        continue;
      }
      let isFolder = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        if (!options.followSymlinks) {
          result.linksNotFollowed += 1;
          continue;
        }
        const target = await stat(path).catch((error: NodeJS.ErrnoException) => error);
        if (target instanceof Error) {
          // A dangling link is worth a word only when it would have been an input.
          if (options.accepts(below(root, path), name)) result.unreadable.push({ path, error: target });
          continue;
        }
        isFolder = target.isDirectory();
        isFile = target.isFile();
      }
      if (isFolder) {
        // Keyed by device and inode: a followed link (or a bind mount) may lead back to a folder
        // already entered. One stat per folder, none per file.
        const info = await stat(path).catch(() => undefined);
        const key = info ? identity(info) : path;
        if (entered.has(key) || !options.enters(below(root, path), key)) continue;
        entered.add(key);
        folders.push(path);
      } else if (isFile && options.accepts(below(root, path), name)) {
        result.files.push(path);
      }
    }
  }
  result.files.sort();
  return result;
}

/** A folder's device and inode, the same however it is reached. */
export function identity(info: { dev: number; ino: number }): string {
  return `${info.dev}:${info.ino}`;
}
