/**
 * Whose writing the folder cache trusts. A rendition read from the cache is written to the outputs
 * as if a backend had made it, so an entry someone else could have written is refused: the folder,
 * its subfolders and its entries must be ours or root's, and root's must be writable by no one
 * else. One of ours that group or others may write is taken as it is: only we (or root) could have
 * made it so, and CI tools restore a cached folder with the runner's umask (0775 is common). What
 * others could do there is bounded by the entries: one they write is theirs and refused, one of
 * ours they rename under another key names that key in its header and is refused (entry.ts), a
 * link is never followed.
 */
import type { Stats } from "node:fs";
import { lstat, mkdir, stat } from "node:fs/promises";
import { octal } from "../../../private-dir.js";

/** The owner and mode of a file or folder, as stat gives them. */
export type Ownership = Pick<Stats, "uid" | "mode">;

/**
 * Why `what` (as it reads in a warning: "it", "the folder") is not to be trusted, or undefined when it
 * is. `me` is this process's uid; undefined (Windows) trusts all, as POSIX owners are not there.
 */
export function distrustOf(info: Ownership, what: string, me: number | undefined): string | undefined {
  if (me === undefined || info.uid === me) return undefined;
  if (info.uid !== 0) return `${what} belongs to uid ${info.uid}, not to you (uid ${me}) or root`;
  if ((info.mode & 0o022) === 0) return undefined;
  const who = (info.mode & 0o002) !== 0 ? "every user" : "its group";
  return `${what} belongs to root and ${who} can write it (mode ${octal(info.mode)})`;
}

/**
 * Makes the cache folder (0700, parents too) when it is missing, and says why it cannot be used
 * when it is not a folder or not one we trust; undefined when it can be. A link to it is followed
 * when the link itself is ours or root's.
 */
export async function folderProblem(dir: string): Promise<string | undefined> {
  const me = process.getuid?.();
  try {
    // EEXIST: something that is not a folder is there; said below.
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    let info = await lstat(dir);
    if (info.isSymbolicLink()) {
      const link = distrustOf({ uid: info.uid, mode: 0 }, "its symbolic link", me);
      if (link) return link;
      info = await stat(dir);
    }
    if (!info.isDirectory()) return "it is not a folder";
    return distrustOf(info, "it", me);
  } catch (error) {
    return `cannot use it: ${(error as Error).message}`;
  }
}

/**
 * Makes the subfolder an entry goes in (0700) when it is missing; when it is there, says why it is
 * not to be written in (a link, not a folder, not ours), or undefined. Rejects when it cannot be made.
 */
export async function subfolderProblem(path: string): Promise<string | undefined> {
  try {
    await mkdir(path, { mode: 0o700 });
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const info = await lstat(path);
  if (info.isSymbolicLink()) return "it is a symbolic link (not followed)";
  if (!info.isDirectory()) return "it is not a folder";
  return distrustOf(info, "it", process.getuid?.());
}
