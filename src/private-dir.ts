/**
 * Is a directory ours alone? aciimg acts on what it finds in its state directory and in its `local/`
 * registry (entries name processes to stop and files to remove), so, as ssh does for ~/.ssh, it
 * refuses one that another user owns or that others can write: whoever can write there could plant
 * what aciimg then acts on. Only the directory itself is checked, not its parents: a 0700 directory
 * of ours under a sticky /tmp is safe, since no one else can add, rename or remove entries in it.
 * Used by the file state store (the state file's directory) and the local provider (`local/`).
 */
import type { Stats } from "node:fs";
import { lstat, stat } from "node:fs/promises";
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
  let info = await statOf(lstat, dir, what);
  if (info === undefined) return "missing";
  if (info.isSymbolicLink()) {
    // Its owner can point it anywhere at any time; a link of ours (or root's) is followed.
    if (uid !== undefined && info.uid !== uid && info.uid !== 0) {
      throw refused(dir, `${what} ${dir} is a symbolic link owned by uid ${info.uid}, not by you (uid ${uid}): its owner can point it anywhere. ` +
        `Remove it (rm ${quoted}) or use another state file (--state or ACIIMG_STATE).`);
    }
    info = await statOf(stat, dir, what);
    if (info === undefined) return "missing";
  }
  if (!info.isDirectory()) {
    throw refused(dir, `${what} ${dir} is not a directory. Move it aside or use another state file (--state or ACIIMG_STATE).`);
  }
  if (uid === undefined) return "private";
  if (info.uid !== uid) {
    throw refused(dir, `${what} ${dir} belongs to uid ${info.uid}, not to you (uid ${uid}): its owner could plant files that aciimg acts on. ` +
      `Make it yours (as root: chown ${uid}:${gid} ${quoted} && chmod 700 ${quoted}) or use another state file (--state or ACIIMG_STATE).`);
  }
  if ((info.mode & 0o022) !== 0) {
    const who = (info.mode & 0o002) !== 0 ? "every user" : "its group";
    throw refused(dir, `${what} ${dir} is writable by ${who} (mode ${octal(info.mode)}): anyone who can write there could plant files that aciimg acts on. ` +
      `Make it private: chmod 700 ${quoted}`);
  }
  return "private";
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
    throw new AciimgError("E_STATE", `cannot inspect ${what} ${dir}: ${(error as Error).message}`, { cause: error, detail: { directory: dir } });
  }
}

function refused(dir: string, message: string): AciimgError {
  return new AciimgError("E_STATE", message, { detail: { directory: dir } });
}

/** `dir` as one shell word, so the printed command works when pasted. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
