/**
 * The local provider's registry: one small JSON file per backend it started (`backend-<pid>.json`
 * in `logDir`, beside the backend's log and socket), so backends of a lost state file are still
 * found by `list()` and reaped as orphans. Every entry is checked field by field before anything it
 * names is acted on, and the directory must be ours alone (private-dir.ts).
 */
import { randomBytes } from "node:crypto";
import { lstat, readFile, readdir, rename, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseId, socketPathOf } from "./process.js";
import { isStateKey } from "../../config.js";
import { checkPrivateDirectory, type PrivateDirectory } from "../../private-dir.js";

/**
 * One registry entry: what `list`, `delete` and `logs` need. Never the key, and never a path: the
 * backend's files (`backend-<instance>.log`, `.sock`) are derived from the instance in its id, so an
 * entry someone else wrote cannot aim aciimg at a file anywhere else.
 */
export interface RegistryEntry {
  id: string;
  name: string;
  pid: number;
  endpoint: string;
  createdAt: string;
  /** /proc start time: with the pid, proves a process is the one we started (pids are reused). */
  startTime?: string;
  /**
   * The owner id of the state it was made for: several state files may share one registry (same
   * directory), and one state's reap must not stop another's backend. Absent in older entries.
   */
  owner?: string;
}

/** An entry whose every field checked out, with the paths derived from it. */
export interface KnownEntry extends Pick<RegistryEntry, "id" | "name" | "pid" | "createdAt" | "startTime" | "owner"> {
  logFile: string;
}

/**
 * Checks an entry read from `backend-<pid>.json` field by field: a string saying what is wrong, or
 * the entry. Its files are derived from the id's instance; an older entry's `logFile` is kept only
 * when it is exactly a log name aciimg made then, in this registry.
 */
function parseEntry(text: string, pid: number, logDir: string): KnownEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const entry = value as Record<string, unknown>;
  const id = typeof entry.id === "string" ? parseId(entry.id) : undefined;
  if (id === undefined || id.pid !== pid || id.instance.length > 32) return `"id" is not local:${pid}@<instance>`;
  if (entry.pid !== pid) return `"pid" is not ${pid}`;
  if (typeof entry.name !== "string" || !isStateKey(entry.name)) return `"name" is not a backend name`;
  if (typeof entry.createdAt !== "string" || Number.isNaN(Date.parse(entry.createdAt)))
    return `"createdAt" is not a time`;
  const { startTime, owner } = entry;
  if (startTime !== undefined && !(typeof startTime === "string" && /^\d{1,20}$/.test(startTime)))
    return `"startTime" is not a /proc start time`;
  // The same form as the state's owner id (state/file.ts).
  if (owner !== undefined && !(typeof owner === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(owner)))
    return `"owner" is not an owner id`;
  let logFile = join(logDir, `backend-${id.instance}.log`);
  if (entry.logFile !== undefined) {
    const legacy =
      typeof entry.logFile === "string" ? /^backend-\d{1,16}-[0-9a-f]{8}\.log$/.exec(basename(entry.logFile)) : null;
    if (legacy === null || entry.logFile !== join(logDir, legacy[0])) return `"logFile" is not a log in ${logDir}`;
    logFile = entry.logFile;
  }
  return {
    id: entry.id as string,
    name: entry.name,
    pid,
    createdAt: entry.createdAt,
    logFile,
    ...(startTime === undefined ? {} : { startTime }),
    ...(owner === undefined ? {} : { owner }),
  };
}

/** What reading `backend-<pid>.json` found: nothing, an entry that does not check out (never acted on), or an entry. */
export type ReadEntry = KnownEntry | { invalid: string } | undefined;

/** The entry, when there is one that checks out. */
export const knownEntry = (read: ReadEntry): KnownEntry | undefined =>
  read === undefined || "invalid" in read ? undefined : read;

export interface LocalRegistry {
  readonly logDir: string;
  entryPath(pid: number): string;
  logPathOf(instance: string): string;
  /**
   * The registry names processes to stop and files to remove, so it is read only when it is ours
   * alone (private-dir.ts). Checked once: only we or root can open it up again afterwards.
   */
  check(): Promise<PrivateDirectory>;
  /** The entry for `pid`: undefined when there is none, `{ invalid }` when it does not check out. */
  read(pid: number): Promise<ReadEntry>;
  /**
   * Writes the entry of `pid`; a temp file + rename, so a
   * concurrent `list()` never reads half an entry (and forgets it).
   */
  register(pid: number, entry: RegistryEntry): Promise<void>;
  /**
   * Removes the socket a dead backend left (kill -9 skips its close): only a socket, only at the
   * path its id derives, so neither a planted entry nor a planted file makes us unlink anything else.
   */
  removeSocket(id: string): Promise<void>;
  /** Removes the entry of `pid`, and the socket and log of the entry when it checked out. */
  forget(pid: number, entry: KnownEntry | undefined): Promise<void>;
  /** The pids that have an entry file; none when the directory is missing or unreadable. */
  pids(): Promise<number[]>;
}

/** The registry in `logDir`. (Long only for its methods, each short: they share the directory and its check.) */
export function createLocalRegistry(logDir: string): LocalRegistry {
  const entryPath = (pid: number): string => join(logDir, `backend-${pid}.json`);
  // Checked on every use, not once: a parent that became writable by others since would let them
  // swap `local/` for their own (private-dir.ts).
  function check(): Promise<PrivateDirectory> {
    return checkPrivateDirectory(logDir, "the local backend registry");
  }

  async function removeSocket(id: string): Promise<void> {
    const parsed = parseId(id);
    if (!parsed) return;
    const path = socketPathOf(logDir, parsed.instance);
    const stats = await lstat(path).catch(() => undefined);
    if (stats?.isSocket()) await unlink(path).catch(() => undefined);
  }

  return {
    logDir,
    entryPath,
    logPathOf: (instance) => join(logDir, `backend-${instance}.log`),
    check,
    removeSocket,

    async read(pid) {
      if ((await check()) === "missing") return undefined;
      let text: string;
      try {
        text = await readFile(entryPath(pid), "utf8");
      } catch {
        return undefined;
      }
      const parsed = parseEntry(text, pid, logDir);
      return typeof parsed === "string" ? { invalid: parsed } : parsed;
    },

    async register(pid, entry) {
      const temp = `${entryPath(pid)}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(temp, JSON.stringify(entry), { mode: 0o600 });
      await rename(temp, entryPath(pid));
    },

    async forget(pid, entry) {
      if (entry) await removeSocket(entry.id);
      await unlink(entryPath(pid)).catch(() => undefined);
      if (entry) await unlink(entry.logFile).catch(() => undefined);
    },

    async pids() {
      if ((await check()) === "missing") return [];
      let names: string[];
      try {
        names = await readdir(logDir);
      } catch {
        return [];
      }
      const pids: number[] = [];
      for (const name of names) {
        const match = /^backend-([1-9]\d{0,9})\.json$/.exec(name);
        if (match) pids.push(Number(match[1]));
      }
      return pids;
    },
  };
}
