/**
 * Is a directory ours alone? aciimg acts on what it finds in its state directory and in its `local/`
 * registry (entries name processes to stop and files to remove), so, as ssh does for ~/.ssh, it
 * refuses one that another user owns or that others can write: whoever can write there could plant
 * what aciimg then acts on. Its parents are checked too, as ssh's StrictModes checks the path to
 * ~/.ssh: whoever can write a parent can rename the directory away and put their own in its place,
 * so each must be ours or root's and writable by no one else unless sticky
 * (a 0700 directory of ours under /tmp is safe: no one else can rename or remove it there).
 * Used by the file state store (the state file's directory) and the local provider (`local/`).
 */
import type { Stats } from "node:fs";
import { lstat, readlink, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { AciimgError } from "./errors.js";

/** `missing`: the directory does not exist (yet); nothing in it can have been planted. */
export type PrivateDirectory = "private" | "missing";

/**
 * Resolves `private` when `dir` is a directory owned by this user that neither group nor others can
 * write, `missing` when it does not exist; fails with E_STATE, naming the command that fixes it, otherwise.
 * `what` names the directory in messages ("the state directory").
 */
export async function checkPrivateDirectory(dir: string, what: string): Promise<PrivateDirectory> {
  // No POSIX owners or mode bits on Windows (its ACLs are not checked): existence only.
  const uid = process.getuid?.();
  const gid = process.getgid?.() ?? uid;
  const quoted = shellQuote(dir);
  if (uid !== undefined) await checkParents(dir, what, uid);
  let info = await statOf(lstat, dir, what);
  if (info === undefined) return "missing";
  if (info.isSymbolicLink()) {
    // A link of ours (or root's): checkParents refused one anyone else owns, who could point it anywhere.
    info = await statOf(stat, dir, what);
    if (info === undefined) return "missing";
  }
  if (!info.isDirectory()) {
    throw refused(
      dir,
      `${what} ${dir} is not a directory. Move it aside or use another state file (--state or ACIIMG_STATE).`,
    );
  }
  if (uid === undefined) return "private";
  if (info.uid !== uid) {
    throw refused(
      dir,
      `${what} ${dir} belongs to uid ${info.uid}, ` +
        `not to you (uid ${uid}): its owner could plant files that aciimg acts on. ` +
        `Make it yours (as root: chown ${uid}:${gid} ${quoted} && chmod 700 ${quoted}) ` +
        `or use another state file (--state or ACIIMG_STATE).`,
    );
  }
  if ((info.mode & 0o022) !== 0) {
    const who = (info.mode & 0o002) !== 0 ? "every user" : "its group";
    throw refused(
      dir,
      `${what} ${dir} is writable by ${who} (mode ${octal(info.mode)}): ` +
        `anyone who can write there could plant files that aciimg acts on. ` +
        `Make it private: chmod 700 ${quoted}`,
    );
  }
  return "private";
}

/** The most links one path may pass through, as the kernel's limit (MAXSYMLINKS, 40). */
const maxLinks = 40;

/**
 * Walks `dir` from `/` as the kernel resolves it, and fails with E_STATE at the first directory it
 * passes through that someone else could rename entries in (another user's, or writable by group or
 * others and not sticky), or the first link someone else owns (they can point it anywhere). A part
 * that does not exist yet ends the walk: aciimg creates it, 0700.
 */
async function checkParents(dir: string, what: string, uid: number): Promise<void> {
  const pending = parts(resolve(dir));
  let current: string = sep;
  let links = 0;
  for (;;) {
    const info = await statOf(lstat, current, what);
    if (info === undefined) return;
    if (info.isSymbolicLink()) {
      if (info.uid !== uid && info.uid !== 0) {
        const how = current === resolve(dir) ? "is" : `is reached through ${current}, which is`;
        throw refused(
          dir,
          `${what} ${dir} ${how} a symbolic link owned by uid ${info.uid}, not by you (uid ${uid}) or root: ` +
            `its owner can point it anywhere. ` +
            `Remove it (rm ${shellQuote(current)}) or use another state file (--state or ACIIMG_STATE).`,
        );
      }
      if (++links > maxLinks)
        throw refused(dir, `${what} ${dir} is reached through more than ${maxLinks} symbolic links.`);
      const target = await readlink(current);
      pending.push(...parts(target));
      current = isAbsolute(target) ? sep : dirname(current);
      continue;
    }
    // Not a directory: checkPrivateDirectory says so for `dir`; a file above it fails the mkdir.
    // Nothing left to walk: this is `dir` itself, which the caller holds to the stricter rule.
    if (!info.isDirectory() || pending.length === 0) return;
    checkParent(dir, what, current, info, uid);
    const name = pending.pop() as string;
    if (name === "..") current = dirname(current);
    else if (name !== ".") current = join(current, name);
  }
}

/** `path` as its names, last first (a stack: the next one to walk is popped). */
function parts(path: string): string[] {
  return path
    .split(sep)
    .filter((name) => name !== "")
    .reverse();
}

/** Fails unless no one but us and root can rename entries of `parent` (`dir` itself gets the stricter check after). */
function checkParent(dir: string, what: string, parent: string, info: Stats, uid: number): void {
  const advice = `Use a state file in a directory only you can change (--state or ACIIMG_STATE)`;
  if (info.uid !== uid && info.uid !== 0) {
    throw refused(
      dir,
      `${what} ${dir} is inside ${parent}, ` +
        `which belongs to uid ${info.uid}: its owner could rename ${what} away and put their own ` +
        `in its place. ${advice}.`,
    );
  }
  const isSticky = (info.mode & 0o1000) !== 0;
  if ((info.mode & 0o022) !== 0 && !isSticky) {
    const who = (info.mode & 0o002) !== 0 ? "every user" : "its group";
    const quoted = shellQuote(parent);
    throw refused(
      dir,
      `${what} ${dir} is inside ${parent}, ` +
        `which ${who} can write (mode ${octal(info.mode)}, not sticky): anyone who can write there ` +
        `could rename ${what} away and put their own in its place. ` +
        `Make it writable only by you (chmod go-w ${quoted}), ` +
        `or sticky as /tmp is (chmod +t ${quoted}); or: ${advice}.`,
    );
  }
}

/** A file mode as `ls -l`'s numbers show it: 0644. */
export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

async function statOf(how: typeof lstat, dir: string, what: string): Promise<Stats | undefined> {
  try {
    return await how(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new AciimgError("E_STATE", `cannot inspect ${what} ${dir}: ${(error as Error).message}`, {
      cause: error,
      detail: { directory: dir },
    });
  }
}

function refused(dir: string, message: string): AciimgError {
  return new AciimgError("E_STATE", message, { detail: { directory: dir } });
}

/** `dir` as one shell word, so the printed command works when pasted. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
