/**
 * The kernel's `fs.protected_symlinks` rule, applied by aciimg itself to the folders outputs go
 * to, whatever the sysctl says on this machine: a symbolic link in a sticky folder
 * that others can write (`/tmp`) is followed only when it is the user's own or the folder owner's
 * (Documentation/admin-guide/sysctl/fs.rst, `protected_symlinks`; fs/namei.c may_follow_link).
 * Anyone can make `/tmp/out` a link to a folder of yours before you run `-o /tmp/out`, and have
 * your outputs land there, over your files of the same names.
 */
import { readFileSync } from "node:fs";
import { lstat, readlink, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { AciimgError } from "../../errors.js";

/** Links followed at most, as the kernel's ELOOP limit (MAXSYMLINKS): past it the write fails on its own. */
const maxLinks = 40;

/** A link the kernel's rule would not follow: where it is, whose it is, and the sticky folder holding it. */
export interface UntrustedLink {
  link: string;
  owner: number;
  folder: string;
}

/**
 * The first link on the way to `folder` (an absolute path; links in its folders and in their
 * targets included) that the rule refuses, or undefined. Parts that do not exist end the walk:
 * mkdir makes them as folders of ours (prepareFolders checks again once they are made).
 */
export async function untrustedLinkOn(folder: string): Promise<UntrustedLink | undefined> {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // not POSIX: no owners to compare
  let reached: string = sep;
  const rest = folder.split(sep).filter((part) => part !== "" && part !== ".");
  for (let links = 0; rest.length > 0; ) {
    const part = rest.shift() as string;
    if (part === "..") {
      reached = dirname(reached);
      continue;
    }
    const next = join(reached, part);
    const info = await lstat(next).catch(() => undefined);
    if (info === undefined) return undefined;
    if (!info.isSymbolicLink()) {
      reached = next;
      continue;
    }
    if (++links > maxLinks) return undefined;
    const holder = await stat(reached);
    const isShared = (holder.mode & 0o1002) === 0o1002; // sticky, and writable by others
    const isTrusted = info.uid === uid || info.uid === holder.uid;
    if (isShared && !isTrusted) return { link: next, owner: info.uid, folder: reached };
    const target = await readlink(next);
    rest.unshift(...target.split(sep).filter((p) => p !== "" && p !== "."));
    if (isAbsolute(target)) reached = sep;
  }
  return undefined;
}

/** Fails with E_OUTPUT when `folder` is reached through a link untrustedLinkOn refuses. */
export async function refuseUntrustedLinks(folder: string): Promise<void> {
  const found = await untrustedLinkOn(resolve(folder));
  if (found === undefined) return;
  throw new AciimgError(
    "E_OUTPUT",
    `refusing to write to ${folder}: ${found.link} is a symbolic link owned by ${userName(found.owner)} ` +
      `in ${found.folder}, ` +
      "a sticky folder others can write, so that user chooses where it leads (the kernel's protected_symlinks rule); " +
      "name a folder of your own with -o (or, if you trust that user, the folder the link leads to)",
  );
}

/** "nobody (uid 65534)", or "uid 1234" when /etc/passwd does not name it. */
function userName(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (id === String(uid) && name) return `${name} (uid ${uid})`;
    }
  } catch {
    // no passwd file: the number alone
  }
  return `uid ${uid}`;
}
