/**
 * One batch at a time per output folder: `aciimg process -o folder/` holds `folder/.aciimg.lock`
 * from before it plans until it ends, and a second batch into that folder is refused at once
 * (E_OUTPUT_BUSY, exit 75), naming the first: two batches with different operations left a mix
 * of both, each exiting 0.
 *
 * The lock lives in the folder itself, not in the user's private state directory: two users
 * writing to one shared folder must see each other's lock. Its holder is known by pid, host and
 * start time (field 22 of /proc/<pid>/stat): a lock whose process has ended, or whose pid now
 * names a process started at another time (a reused pid), is stale and taken over. One from
 * another host cannot be checked, and stays until its holder or a person removes it. It is
 * created as state/lock.ts creates its lock (a private temporary file, hard-linked into place, so
 * it never appears empty) and is a dot-file without an image extension: no folder search or glob
 * takes it for an input. Its age says nothing here (a batch holds it for hours), hence not that lock.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  openSync,
  readSync,
  lstatSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { AciimgError } from "../../errors.js";
import { isProcessAlive, procStartTime } from "../../host-process.js";
import { diskError } from "./disk-full.js";
import { temporarySuffix } from "./outputs.js";

/** The lock file's name in an output folder. */
export const outputLockName = ".aciimg.lock";

/** Who holds an output folder: the lock file's content. */
interface Holder {
  pid: number;
  host: string;
  uid: number | undefined;
  /** Field 22 of /proc/<pid>/stat: with the pid, this process and no later one given the same pid. */
  startTime: string | undefined;
  lockedAt: string;
  command: string;
  token: string;
}

export interface OutputLock {
  /** Removes the lock if it is still ours. Also done on process exit, should the run end by process.exit. */
  release(): void;
}

/** The longest command line a lock records; the rest is cut. */
const commandMaxChars = 300;

/**
 * Takes the lock of `folder` (an existing folder; `shown` names it in messages), or fails with
 * E_OUTPUT_BUSY naming the process that holds it.
 */
export function lockOutputFolder(folder: string, shown: string): OutputLock {
  const path = join(folder, outputLockName);
  const own: Holder = {
    pid: process.pid,
    host: hostname(),
    uid: process.getuid?.(),
    startTime: procStartTime(process.pid),
    lockedAt: new Date().toISOString(),
    command: commandLine(process.argv.slice(2)),
    token: randomBytes(12).toString("hex"),
  };
  // A stale lock taken over by another run between our look and our link: look again, a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, JSON.stringify(own), shown)) {
      const release = (): void => {
        process.off("exit", release);
        if (readHolder(path)?.token === own.token) unlinkQuietly(path);
      };
      process.once("exit", release);
      return { release };
    }
    const holder = readHolder(path);
    if (holder === undefined) {
      if (!isDamaged(path)) continue; // gone since the link failed, or being broken: try again
    } else if (!isStale(holder)) {
      throw busy(holder, path, shown);
    }
    breakStale(path, holder, shown);
  }
  const message =
    `cannot lock ${shown}: its lock file ${path} keeps changing; ` + "another aciimg process is starting there";
  throw new AciimgError("E_OUTPUT_BUSY", message, { detail: { lockFile: path } });
}

/** `aciimg process in -o "my out"`: the arguments as a shell would take them back. */
function commandLine(args: readonly string[]): string {
  const text = ["aciimg", ...args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg)))].join(" ");
  return text.length > commandMaxChars ? `${text.slice(0, commandMaxChars)}…` : text;
}

/** Creates the lock whole, or returns false when one is there (link() is atomic and fails with EEXIST). */
function tryCreate(path: string, content: string, shown: string): boolean {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}${temporarySuffix}`;
  try {
    writeFileSync(temporary, content, { mode: 0o644, flag: "wx" });
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    const doing = `cannot lock output folder ${shown}`;
    throw (
      diskError(doing, error) ?? new AciimgError("E_OUTPUT", `${doing}: ${(error as Error).message}`, { cause: error })
    );
  } finally {
    unlinkQuietly(temporary);
  }
}

/** More than any lock this code writes (the command is cut at 300 characters). */
const lockMaxBytes = 16 * 1024;

/**
 * The lock file's text, read as another user may have planted it in a shared folder: a link is
 * not followed, a FIFO does not hang the open (refused as not a regular file), and the read is
 * bounded, so `/dev/zero` or a huge file under the name costs nothing. Undefined when it is none.
 */
function readLockText(path: string): string | undefined {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size > lockMaxBytes) return undefined;
    const buffer = Buffer.alloc(lockMaxBytes);
    const length = readSync(fd, buffer, 0, lockMaxBytes, 0);
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

/** A planted lock's text in our message: control characters (terminal escapes) shown as `?`. */
const printable = (text: string): string => text.replace(/\p{Cc}/gu, "?");

function readHolder(path: string): Holder | undefined {
  try {
    const text = readLockText(path);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text) as Partial<Holder>;
    const { pid, host, lockedAt, command, token } = parsed;
    if (
      typeof pid === "number" &&
      typeof host === "string" &&
      typeof lockedAt === "string" &&
      typeof command === "string" &&
      typeof token === "string"
    ) {
      const uid = typeof parsed.uid === "number" ? parsed.uid : undefined;
      const startTime = typeof parsed.startTime === "string" ? parsed.startTime : undefined;
      return {
        pid,
        host: printable(host),
        uid,
        startTime,
        lockedAt: printable(lockedAt),
        command: printable(command),
        token,
      };
    }
  } catch {
    // gone, or not a lock this version wrote: isDamaged decides
  }
  return undefined;
}

/**
 * Something under the lock's name that is no holder's lock (locks appear whole, so not one being
 * written): bad content, or a link, FIFO or device planted there. Removed like a stale lock.
 */
function isDamaged(path: string): boolean {
  try {
    return !lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Its process has ended, or its pid now names another process; only checkable on this host. */
function isStale(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  if (!isProcessAlive(holder.pid)) return true;
  const startTime = procStartTime(holder.pid);
  return holder.startTime !== undefined && startTime !== undefined && startTime !== holder.startTime;
}

/** What --json's error detail says of the holder. */
function pick({ pid, host, command, lockedAt }: Holder) {
  return { pid, host, command, lockedAt };
}

function busy(holder: Holder, path: string, shown: string): AciimgError {
  const uid = process.getuid?.();
  const whose = holder.uid !== undefined && holder.uid !== uid ? ` of uid ${holder.uid}` : "";
  const where = holder.host === hostname() ? "" : ` on host ${holder.host}`;
  const gone = where ? ` If it no longer runs there, remove ${path}.` : "";
  return new AciimgError(
    "E_OUTPUT_BUSY",
    `${shown} is being written by another aciimg process: pid ${holder.pid}${whose}${where} (${holder.command}), ` +
      `started at ${holder.lockedAt}. Two batches into one folder would mix their outputs: ` +
      `wait for it to end, or write elsewhere with -o.${gone}`,
    { detail: { lockFile: path, ...pick(holder) } },
  );
}

/**
 * Removes a stale lock, unless another run is already doing so or it changed since it was judged:
 * serialized by a second exclusive file, as state/lock.ts does, so two runs that judged the same
 * stale lock never both remove it, the second removing the lock the first has just taken.
 */
function breakStale(path: string, judged: Holder | undefined, shown: string): void {
  const breaker = `${path}.break`;
  if (!tryCreate(breaker, String(process.pid), shown)) {
    // A breaker killed mid-break would wedge every later run: its file is stale after a few seconds.
    const age = ageMs(breaker);
    if (age !== undefined && age > 5_000) unlinkQuietly(breaker);
    return;
  }
  try {
    const current = readHolder(path);
    const unchanged = judged ? current?.token === judged.token : current === undefined && isDamaged(path);
    if (!unchanged) return;
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      const who = judged?.uid === undefined ? "" : ` (uid ${judged.uid})`;
      throw new AciimgError(
        "E_OUTPUT",
        `${shown} holds a lock left by an aciimg process that has ended${who}, and it cannot be removed: ` +
          `${(error as Error).message}. Ask the owner of ${path} to remove it, or write elsewhere with -o.`,
        { cause: error, detail: { lockFile: path } },
      );
    }
  } finally {
    unlinkQuietly(breaker);
  }
}

function ageMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
