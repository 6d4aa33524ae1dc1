/**
 * The `local` provider: runs the built-in backend (`aciimg backend`, src/backend/) as a detached
 * process with a random key, listening on a Unix domain socket (0600) in `logDir` (0700), so the
 * first `aciimg process` works with no cloud account and no other user of the machine can reach
 * the backend, or take its place after it dies: a TCP port on loopback is anyone's to bind.
 * Each backend it starts is registered as a small JSON file in `logDir` (beside its log and its
 * socket), so backends of a lost state file are still found by `list()` and reaped as orphans.
 * The key travels only in the child's environment (ACIIMG_BACKEND_KEY), never in argv, which
 * every local user can read in /proc, and the rest of its environment is an allowlist (local-env.ts).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readFile, readdir, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import { backendEnvironment } from "./local-env.js";
import { backendArgs, checkSocketPath, parseId, readListening, signal, socketPathOf, tailOf } from "./local-process.js";
import { systemClock } from "../clock.js";
import { backendNamePattern, defaultStatePath } from "../config.js";
import { AciimgError, isAciimgError } from "../errors.js";
import { createImaginaryClient } from "../imaginary/client.js";
import { hasProcFs, isProcessAlive, procArgv, procStartTime, procUids } from "../host-process.js";
import { checkPrivateDirectory, type PrivateDirectory } from "../private-dir.js";
import type { BackendRecord, BackendRef, BackendSpec, Clock, CreateOptions, LiveState, Provider } from "../engine/types.js";

export interface LocalProviderOptions {
  /** The caller's environment: the default `logDir` comes from it, and the backend gets only its allowlisted variables (local-env.ts) and the key. */
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** The aciimg CLI script to run. Default: this package's bin/aciimg.js. */
  cliPath?: string;
  /** Where backend logs and registry entries live. Default: `local/` beside the default state file. */
  logDir?: string;
  /** Bound on start → listening → healthy. Default 30 s. */
  startTimeoutMs?: number;
  /** Bound on SIGTERM → exit before SIGKILL. Default 5 s. */
  stopTimeoutMs?: number;
  /** Told, one sentence each, about registry entries that were ignored because they do not check out. Default: not told. */
  onWarning?: (message: string) => void;
}

/**
 * One registry entry: what `list`, `delete` and `logs` need. Never the key, and never a path: the
 * backend's files (`backend-<instance>.log`, `.sock`) are derived from the instance in its id, so an
 * entry someone else wrote cannot aim aciimg at a file anywhere else.
 */
interface RegistryEntry {
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
interface KnownEntry extends Pick<RegistryEntry, "id" | "name" | "pid" | "createdAt" | "startTime" | "owner"> {
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
  if (typeof entry.name !== "string" || !backendNamePattern.test(entry.name)) return `"name" is not a backend name`;
  if (typeof entry.createdAt !== "string" || Number.isNaN(Date.parse(entry.createdAt))) return `"createdAt" is not a time`;
  const { startTime, owner } = entry;
  if (startTime !== undefined && !(typeof startTime === "string" && /^\d{1,20}$/.test(startTime))) return `"startTime" is not a /proc start time`;
  // The same form as the state's owner id (state/file.ts).
  if (owner !== undefined && !(typeof owner === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(owner))) return `"owner" is not an owner id`;
  let logFile = join(logDir, `backend-${id.instance}.log`);
  if (entry.logFile !== undefined) {
    const legacy = typeof entry.logFile === "string" ? /^backend-\d{1,16}-[0-9a-f]{8}\.log$/.exec(basename(entry.logFile)) : null;
    if (legacy === null || entry.logFile !== join(logDir, legacy[0])) return `"logFile" is not a log in ${logDir}`;
    logFile = entry.logFile;
  }
  return {
    id: entry.id as string, name: entry.name, pid, createdAt: entry.createdAt, logFile,
    ...(startTime === undefined ? {} : { startTime }),
    ...(owner === undefined ? {} : { owner }),
  };
}

/** Creates the local provider. */
export function createLocalProvider(options: LocalProviderOptions): Provider {
  const clock = options.clock ?? systemClock;
  const cliPath = options.cliPath ?? fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));
  const logDir = options.logDir ?? join(dirname(defaultStatePath(options.env)), "local");
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;

  const entryPath = (pid: number): string => join(logDir, `backend-${pid}.json`);
  const logPathOf = (instance: string): string => join(logDir, `backend-${instance}.log`);
  let isRegistryPrivate = false;

  /**
   * The registry names processes to stop and files to remove, so it is read only when it is ours
   * alone (private-dir.ts). Checked once: only we or root can open it up again afterwards.
   */
  async function checkRegistry(): Promise<PrivateDirectory> {
    if (isRegistryPrivate) return "private";
    const result = await checkPrivateDirectory(logDir, "the local backend registry");
    isRegistryPrivate = result === "private";
    return result;
  }

  /** The entry for `pid`: undefined when there is none, `{ invalid }` when it does not check out (never acted on). */
  async function readEntry(pid: number): Promise<KnownEntry | { invalid: string } | undefined> {
    if ((await checkRegistry()) === "missing") return undefined;
    let text: string;
    try {
      text = await readFile(entryPath(pid), "utf8");
    } catch {
      return undefined;
    }
    const parsed = parseEntry(text, pid, logDir);
    return typeof parsed === "string" ? { invalid: parsed } : parsed;
  }

  const knownEntry = (read: KnownEntry | { invalid: string } | undefined): KnownEntry | undefined =>
    read === undefined || "invalid" in read ? undefined : read;

  /**
   * Removes the socket a dead backend left (kill -9 skips its close): only a socket, only at the
   * path its id derives, so neither a planted entry nor a planted file makes us unlink anything else.
   */
  async function removeSocket(id: string): Promise<void> {
    const parsed = parseId(id);
    if (!parsed) return;
    const path = socketPathOf(logDir, parsed.instance);
    const stats = await lstat(path).catch(() => undefined);
    if (stats?.isSocket()) await unlink(path).catch(() => undefined);
  }

  async function forget(pid: number, entry: KnownEntry | undefined): Promise<void> {
    if (entry) await removeSocket(entry.id);
    await unlink(entryPath(pid)).catch(() => undefined);
    if (entry) await unlink(entry.logFile).catch(() => undefined);
  }

  /**
   * Does `pid` run `node <cli> backend …` as this user? The pid comes from a file (a record, a
   * registry entry), so before it is signalled /proc must show our backend's command line (the
   * script of this or another aciimg install, then `backend`) and our uid. Where there is no /proc
   * (macOS) only liveness can be checked, and the private registry directory is the guard.
   */
  function runsOurBackend(pid: number): boolean {
    if (!hasProcFs()) return true;
    const argv = procArgv(pid);
    const uids = procUids(pid);
    if (argv === undefined || uids === undefined) return false;
    const script = argv[1];
    const isBackendCommand = script !== undefined && argv[2] === "backend" && (script === cliPath || basename(script) === "aciimg.js");
    return isBackendCommand && uids.real === process.getuid?.() && uids.effective === process.geteuid?.();
  }

  /**
   * Is `pid` the backend `id` names? Alive, our backend's command run by us (`runsOurBackend`), and,
   * when our registry knows its start time, started at that time. Guards `delete` against signalling
   * an unrelated process: one that reused the pid, or one a planted entry or record names.
   */
  async function isOurBackend(pid: number, id: string): Promise<boolean> {
    if (!isProcessAlive(pid) || !runsOurBackend(pid)) return false;
    const entry = knownEntry(await readEntry(pid));
    if (entry && entry.id !== id) return false;
    if (entry?.startTime !== undefined) {
      const now = procStartTime(pid);
      if (now !== undefined && now !== entry.startTime) return false;
    }
    return true;
  }

  async function stop(pid: number): Promise<void> {
    const exited = async (boundMs: number): Promise<boolean> => {
      const deadline = clock.now() + boundMs;
      while (clock.now() < deadline) {
        if (!isProcessAlive(pid)) return true;
        await clock.sleep(25);
      }
      return !isProcessAlive(pid);
    };
    const startTime = procStartTime(pid);
    if (!signal(pid, "SIGTERM")) return;
    if (await exited(stopTimeoutMs)) return;
    // The pid may have been freed and taken by another process while we waited: SIGKILL only ours.
    if (procStartTime(pid) !== startTime) return;
    signal(pid, "SIGKILL");
    if (!(await exited(2_000))) {
      throw new AciimgError("E_INTERNAL", `backend process ${pid} did not exit after SIGKILL within 2s`);
    }
  }

  async function create(spec: BackendSpec, createOptions: CreateOptions): Promise<BackendRecord> {
    const { apiKey, owner, signal: abort, onPhase } = createOptions;
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    await checkRegistry();
    // Names the socket and ends the id, so the socket's path is derived, never read from the registry.
    const instance = randomBytes(8).toString("hex");
    const socketPath = socketPathOf(logDir, instance);
    checkSocketPath(socketPath);
    const logFile = logPathOf(instance);
    const log = await open(logFile, "a", 0o600);
    onPhase?.("starting");
    const started = clock.now();
    // Detached: the backend outlives this CLI run (it is reaped when idle, not when we exit). Its
    // working directory is its own private one: no config file of the caller's cwd is read.
    const child = spawn(process.execPath, [cliPath, ...backendArgs(spec, socketPath)], {
      detached: true,
      cwd: logDir,
      stdio: ["ignore", "pipe", log.fd],
      env: backendEnvironment(options.env, apiKey),
    });
    await log.close();
    const pid = child.pid;
    const fail = async (message: string, cause?: unknown): Promise<never> => {
      if (pid !== undefined) {
        signal(pid, "SIGKILL");
        await forgetAfterExit(pid);
      }
      await removeSocket(id);
      const tail = await tailOf(logFile, 20);
      await unlink(logFile).catch(() => undefined);
      throw new AciimgError("E_PROVISION", `cannot start the local backend: ${message}${tail ? `\nbackend log:\n${tail}` : ""}`, { cause });
    };
    const forgetAfterExit = async (p: number): Promise<void> => {
      const deadline = clock.now() + 2_000;
      while (isProcessAlive(p) && clock.now() < deadline) await clock.sleep(20);
      await unlink(entryPath(p)).catch(() => undefined);
    };
    const endpoint = `unix:${socketPath}`;
    const id = `local:${pid ?? 0}@${instance}`;
    if (pid === undefined) {
      return fail(`spawning ${process.execPath} failed`, await new Promise((resolve) => child.once("error", resolve)));
    }

    // Registered before it listens: if this process dies mid-create (Ctrl-C, kill -9), the backend is
    // still found by list() and reaped as an orphan instead of running forever unseen.
    const startTime = procStartTime(pid);
    const createdAt = new Date(clock.now()).toISOString();
    const register = async (entry: RegistryEntry): Promise<void> => {
      // Temp file + rename: a concurrent list() never reads half an entry (and forgets it).
      const temp = `${entryPath(pid)}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(temp, JSON.stringify(entry), { mode: 0o600 });
      await rename(temp, entryPath(pid));
    };
    await register({ id, name: spec.name, pid, endpoint, createdAt, startTime, owner });

    let listening;
    try {
      listening = await readListening(child.stdout as Readable, child, startTimeoutMs, abort);
    } catch (error) {
      child.stdout?.destroy();
      child.unref();
      return fail((error as Error).message, error);
    }
    // Let this process exit while the backend runs on (its stdout is done: one line by contract).
    child.stdout?.destroy();
    child.unref();
    if (!("socket" in listening) || listening.socket !== socketPath) {
      return fail(`it reported listening on ${JSON.stringify(listening)}, not on the socket ${socketPath}`);
    }

    onPhase?.("waiting for /health");
    const client = createImaginaryClient({ endpoint, apiKey, connectTimeoutMs: 2_000, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connections: 1 });
    try {
      let backoffMs = 20;
      for (;;) {
        try {
          await client.health(abort);
          break;
        } catch (error) {
          if (isAciimgError(error) && error.code === "E_ABORTED") return await fail("cancelled", error);
          if (clock.now() - started > startTimeoutMs) return await fail(`no healthy /health within ${startTimeoutMs}ms`, error);
          if (!isProcessAlive(pid)) return await fail("the backend exited", error);
        }
        await clock.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 250);
      }
    } finally {
      await client.close();
    }
    onPhase?.("healthy");
    return { provider: "local", id, name: spec.name, endpoint, apiKey, createdAt, lastUsed: createdAt, status: "running", spec, pid };
  }

  return {
    kind: "local",
    create,

    async inspect(record) {
      const pid = record.pid ?? parseId(record.id)?.pid;
      // Dead pid, or a pid now used by another program: our backend is gone.
      if (pid === undefined || !(await isOurBackend(pid, record.id))) return { state: "gone" };
      const client = createImaginaryClient({ endpoint: record.endpoint, apiKey: record.apiKey, connectTimeoutMs: 2_000, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connections: 1 });
      try {
        await client.health();
        return { state: "running", endpoint: record.endpoint };
      } catch (error) {
        const status = isAciimgError(error) ? error.detail?.status : undefined;
        // Our process lives but the endpoint refuses our key: another server answers there, so the
        // backend this record describes is not reachable any more. Gone (the engine starts a new one).
        if (status === 401) return { state: "gone" };
        // Our process lives but does not answer: wedged or dying. Failed, so the engine replaces it.
        return { state: "failed", detail: `backend process ${pid} is alive but ${record.endpoint}/health fails: ${(error as Error).message}` };
      } finally {
        await client.close();
      }
    },

    async delete(ref) {
      const parsed = parseId(ref.id);
      if (!parsed) throw new AciimgError("E_INTERNAL", `not a local backend id: ${ref.id}`);
      const read = await readEntry(parsed.pid);
      // Never signal a process that is not our backend; a vanished backend is already deleted.
      if (await isOurBackend(parsed.pid, ref.id)) await stop(parsed.pid);
      if (!(await isOurBackend(parsed.pid, ref.id))) await removeSocket(ref.id);
      // An entry that does not check out is left alone (list() reports it).
      if (read === undefined || knownEntry(read)?.id === ref.id) await forget(parsed.pid, knownEntry(read));
    },

    async list() {
      if ((await checkRegistry()) === "missing") return [];
      let names: string[];
      try {
        names = await readdir(logDir);
      } catch {
        return [];
      }
      const refs: BackendRef[] = [];
      for (const name of names) {
        const match = /^backend-([1-9]\d{0,9})\.json$/.exec(name);
        if (!match) continue;
        const pid = Number(match[1]);
        const entry = await readEntry(pid);
        if (entry === undefined) continue; // removed since readdir
        if ("invalid" in entry) {
          // Not an entry aciimg wrote (or a damaged one): nothing it names is stopped or removed.
          options.onWarning?.(
            `ignored ${entryPath(pid)}: not a registry entry aciimg wrote (${entry.invalid}); nothing it names was stopped or removed. Delete it if you did not put it there.`,
          );
          continue;
        }
        if (await isOurBackend(pid, entry.id)) {
          refs.push({ provider: "local", id: entry.id, name: entry.name, createdAt: entry.createdAt, ...(entry.owner === undefined ? {} : { owner: entry.owner }) });
        } else {
          // Its process is gone, or the pid is now another program's: a stale entry of ours.
          await forget(pid, entry);
        }
      }
      return refs;
    },

    async logs(ref, tail) {
      const parsed = parseId(ref.id);
      const entry = parsed ? knownEntry(await readEntry(parsed.pid)) : undefined;
      if (!entry || entry.id !== ref.id) return "";
      return tailOf(entry.logFile, tail);
    },
  };
}
