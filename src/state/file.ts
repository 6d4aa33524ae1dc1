/**
 * State in a JSON file (DESIGN.md §3): schema-versioned, written atomically (temp file in the same
 * directory, fsync, rename, fsync the directory), mode 0600 because it holds backend API keys,
 * updates serialized across processes by a lock file beside it. A file aciimg cannot understand is
 * never overwritten: the error names it and the way out. Its directory must be ours alone
 * (private-dir.ts): the lock file and the local backends' registry live there too.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { replaceAtomically } from "../atomic-write.js";
import { systemClock } from "../clock.js";
import { AciimgError, isAciimgError } from "../errors.js";
import { isProcessAlive } from "../host-process.js";
import { checkPrivateDirectory, octal, type PrivateDirectory } from "../private-dir.js";
import { STATE_VERSION, type Clock, type State, type StateStore } from "../engine/types.js";
import { withLock } from "./lock.js";
import { emptyState, parseState, type StateProblem } from "./schema.js";

export interface FileStateStoreOptions {
  /** The state file, e.g. ~/.local/state/aciimg/state.json. Its directory is created (0700) on first write. */
  path: string;
  /** Clock for lock waits. Default: the system clock. */
  clock?: Clock;
  /** How long an update waits for the lock. Default 15 s. */
  lockTimeoutMs?: number;
  /**
   * Told, as one sentence, when the file was readable by others and has been tightened to 0600. The
   * surface decides how to say it (the CLI: an `aciimg: warning:` line). Default: not told.
   */
  onWarning?: (message: string) => void;
}

/**
 * Creates a StateStore on a JSON file. A missing file is an empty state. (Long only
 * for its methods, each short: they share the path, the lock and the directory check.)
 */
export function createFileStateStore(options: FileStateStoreOptions): StateStore {
  const { path } = options;
  const clock = options.clock ?? systemClock;
  const lockOptions = { path: `${path}.lock`, clock, timeoutMs: options.lockTimeoutMs, what: `the state file ${path}` };
  let isSwept = false;

  /**
   * Checked on every read and update, not once per store: a long-running `serve` must not go on
   * trusting a path whose parent has since become writable by others, where the state directory can
   * be renamed away and another planted in its place. The parents are checked
   * too (private-dir.ts), so between this check and the update's end only we or root can re-link it.
   */
  function checkDirectory(): Promise<PrivateDirectory> {
    return checkPrivateDirectory(dirname(path), "the state directory");
  }

  /** A file others could read gives away backend keys: say so and make it 0600 (the mode every write leaves). */
  async function tighten(handle: FileHandle): Promise<void> {
    const { mode } = await handle.stat();
    if ((mode & 0o077) === 0 || process.platform === "win32") return;
    const was = `${(mode & 0o044) !== 0 ? "readable" : "writable"} by others (${octal(mode)})`;
    try {
      await handle.chmod(0o600);
      options.onWarning?.(`${path} was ${was}: it holds backend keys; tightened to 0600`);
    } catch (error) {
      options.onWarning?.(
        `${path} is ${was} and holds backend keys, ` +
          `but aciimg cannot tighten it (${(error as Error).message}): run chmod 600 ${path}`,
      );
    }
  }

  /**
   * The state names the backends aciimg trusts (sockets, pinned certificates) and holds their keys:
   * a file someone else owns (planted in a directory swapped in for ours) is never used.
   */
  async function checkOwner(handle: FileHandle): Promise<void> {
    const info = await handle.stat();
    if (!info.isFile())
      throw new AciimgError("E_STATE", `the state file ${path} is not a regular file. ${wayOut(path)}`, {
        detail: { stateFile: path },
      });
    const uid = process.getuid?.();
    if (uid === undefined || info.uid === uid) return;
    throw new AciimgError(
      "E_STATE",
      `the state file ${path} belongs to uid ${info.uid}, ` +
        `not to you (uid ${uid}): its owner could name a backend of theirs for your images and keys. ` +
        `If you did not put it there, move it aside (mv ${path} ${path}.bak); ` +
        `if you did, make it yours again (as root: chown ${uid} ${path}).`,
      { detail: { stateFile: path } },
    );
  }

  async function read(): Promise<State> {
    if ((await checkDirectory()) === "missing") return emptyState();
    let text: string;
    try {
      // Not through a link, and checked on the descriptor: the file read is the file checked.
      const handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
      try {
        await checkOwner(handle);
        await tighten(handle);
        text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isAciimgError(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return emptyState();
      if (code === "ELOOP") {
        throw new AciimgError(
          "E_STATE",
          `the state file ${path} is a symbolic link: ` +
            `aciimg reads and writes its state only as a file of its own. ${wayOut(path)}`,
          {
            cause: error,
            detail: { stateFile: path },
          },
        );
      }
      throw new AciimgError("E_STATE", `cannot read the state file ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return parseState(text, describeFileProblem(path));
  }

  return {
    location: path,
    read,
    async update(fn) {
      // Its parents before anything is created among them; the directory itself once it exists.
      await checkDirectory();
      await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((error: unknown) => {
        throw new AciimgError(
          "E_STATE",
          `cannot create the state directory ${dirname(path)}: ${(error as Error).message}`,
          { cause: error },
        );
      });
      // Before the lock: the lock file is created in this directory too.
      await checkDirectory();
      return withLock(lockOptions, async () => {
        const state = await read();
        const before = JSON.stringify(state);
        const result = await fn(state);
        const after = JSON.stringify(state, null, 2);
        if (JSON.stringify(state) !== before) await writeAtomically(path, `${after}\n`);
        if (!isSwept) await sweepLeftovers(path);
        isSwept = true;
        return result;
      });
    },
  };
}

/** Where to go when the file cannot be used: concrete commands, nothing lost. */
function wayOut(path: string): string {
  return (
    `aciimg will not overwrite it. Move it aside (mv ${path} ${path}.bak) and run the command again; ` +
    `a backend it recorded is then another state's: ` +
    `\`aciimg status\` lists it and \`aciimg down --name <name> --force\` deletes it.`
  );
}

/** Words a schema problem for the file: what is wrong with it, and the way out. */
function describeFileProblem(path: string): (problem: StateProblem) => AciimgError {
  const detail = { stateFile: path };
  const unusable = (what: string) =>
    new AciimgError("E_STATE", `the state file ${path} ${what}. ${wayOut(path)}`, { detail });
  return (problem) => {
    switch (problem.kind) {
      case "not-json":
        return new AciimgError(
          "E_STATE",
          `the state file ${path} is not valid JSON (${(problem.cause as Error).message}). ${wayOut(path)}`,
          {
            cause: problem.cause,
            detail,
          },
        );
      case "not-object":
        return unusable("does not hold a JSON object");
      case "newer-version":
        return new AciimgError(
          "E_STATE",
          `the state file ${path} has schema version ${problem.version}, ` +
            `written by a newer aciimg (this one reads version ${STATE_VERSION}). ` +
            `Upgrade aciimg, or use another state file (--state or ACIIMG_STATE). ${wayOut(path)}`,
          { detail: { stateFile: path, version: problem.version } },
        );
      case "wrong-version":
      case "backends-not-object":
        return unusable(`is not aciimg state (expected {"version":1,"backends":{…}})`);
      case "malformed-owner":
        return unusable(`has a malformed "owner" (expected a string of letters and digits)`);
      case "malformed-record":
        return unusable(`has a malformed backend record "${problem.name}"`);
    }
  };
}

/** A leftover temporary is this old at least: a live writer holds its temporary for milliseconds. */
const leftoverAgeMs = 10 * 60_000;

/**
 * Removes the temporaries a writer of this state left when it was killed between creating and
 * renaming (or linking) one (kill -9, a CI job's timeout): `<state>.<pid>.<hex>.tmp` and
 * `<state>.lock[.break].<pid>.<hex>.tmp`, only when their process is gone and they are old, so a
 * stopped (Ctrl-Z) writer keeps its own. Once per store; the directory is private (checked before).
 */
async function sweepLeftovers(path: string): Promise<void> {
  const dir = dirname(path);
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = leftoverPid(basename(path), entry);
    if (pid === undefined || isProcessAlive(pid)) continue;
    const file = join(dir, entry);
    const info = await lstat(file).catch(() => undefined);
    if (info?.isFile() && Date.now() - info.mtimeMs > leftoverAgeMs) await unlink(file).catch(() => undefined);
  }
}

/**
 * The writer's pid when `entry` is one of the state's or its lock's
 * temporaries (the names writeAtomically and lock.ts give them).
 */
function leftoverPid(stateName: string, entry: string): number | undefined {
  if (!entry.startsWith(`${stateName}.`)) return undefined;
  const match = /^(?:lock\.(?:break\.)?)?(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry.slice(stateName.length + 1));
  return match ? Number(match[1]) : undefined;
}

/** Temp file in the same directory (same file system), fsync, rename over, fsync the directory. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fill = async (handle: FileHandle) => {
    await handle.writeFile(content);
    // The umask may have narrowed the mode further; it can never have widened it. Keep exactly 0600.
    await handle.chmod(0o600);
  };
  try {
    await replaceAtomically(path, fill, { temporary, mode: 0o600, isDurable: true });
  } catch (error) {
    throw new AciimgError("E_STATE", `cannot write the state file ${path}: ${(error as Error).message}`, {
      cause: error,
      detail: { stateFile: path },
    });
  }
}
