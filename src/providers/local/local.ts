/**
 * The `local` provider: runs the built-in backend (`aciimg backend`, src/backend/) as a detached
 * process with a random key, listening on a Unix domain socket (0600) in `logDir` (0700), so the
 * first `aciimg process` works with no cloud account and no other user of the machine can reach
 * the backend, or take its place after it dies: a TCP port on loopback is anyone's to bind.
 * Each backend it starts is registered as a small JSON file in `logDir` (beside its log and its
 * socket), so backends of a lost state file are still found by `list()` and reaped as orphans
 * (registry.ts); whether a pid is our backend, and stopping it, is in lifecycle.ts.
 * The key travels only in the child's environment (ACIIMG_BACKEND_KEY), never in argv, which
 * every local user can read in /proc, and the rest of its environment is an allowlist (env.ts).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, open, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { backendEnvironment } from "./env.js";
import { inspectHealth, isOurBackend, stopProcess, waitHealthy } from "./lifecycle.js";
import {
  backendArgs,
  backendCommandLine,
  checkListening,
  checkSocketPath,
  parseId,
  signal,
  socketPathOf,
  tailOf,
} from "./process.js";
import type { IdleExit } from "./process.js";
import { createLocalRegistry, knownEntry, type LocalRegistry } from "./registry.js";
import { systemClock } from "../../clock.js";
import { defaultStatePath } from "../../config.js";
import { AciimgError } from "../../errors.js";
import { createImaginaryClient } from "../../client/client.js";
import { isProcessAlive, procStartTime } from "../../host-process.js";
import type { BackendRecord, BackendRef, BackendSpec, Clock, CreateOptions, Provider } from "../../engine/types.js";

/**
 * The backend reads `process`'s input files itself (`GET /<op>?file=`, imaginary's -mount) instead
 * of being sent their bytes over the socket. It is shared by every batch of the state, from any
 * folder, so it mounts `/` (ACIIMG_BACKEND_MOUNT_ROOT=1 in its environment, beside the key), which
 * `aciimg backend` accepts only with --socket: it runs as this user, who can read those files
 * anyway, and only this user reaches it (its 0600 socket in the 0700 `logDir`, and its key).
 * `serve` never forwards a GET on an image route (src/http/handler.ts), so no client of `serve`
 * can name a file. In the environment, not in backendArgs: it is the provider's own, not a
 * setting, and `up --dry-run` prints the settings' command line.
 */
const fileSourceRoot = "/";

export interface LocalProviderOptions {
  /**
   * The caller's environment: the default `logDir` comes from it, and the
   * backend gets only its allowlisted variables (env.ts) and the key.
   */
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** The aciimg CLI script to run. Default: this package's bin/aciimg.js. */
  cliPath?: string;
  /** Where backend logs and registry entries live. Default: `local/` beside the default state file. */
  logDir?: string;
  /**
   * Bound on start → listening → healthy.
   * @default 30 s
   */
  startTimeoutMs?: number;
  /**
   * Bound on SIGTERM → exit before SIGKILL.
   * @default 5 s
   */
  stopTimeoutMs?: number;
  /**
   * Backends stop themselves once idle this long, after removing their record from this state
   * file (engine/idle-stop.ts), so none is left running where nobody runs `reap`. Default: they
   * run until reaped or taken down (a state in Azure Blob, which the backend cannot reach).
   */
  idleExit?: IdleExit;
  /**
   * Told, one sentence each, about registry entries that were ignored because they do not check out. Default: not told.
   */
  onWarning?: (message: string) => void;
}

/**
 * Creates the local provider. (Long only for its methods, each
 * short: they share the registry, the clock and the bounds.)
 */
export function createLocalProvider(options: LocalProviderOptions): Provider {
  const clock = options.clock ?? systemClock;
  const cliPath = options.cliPath ?? fileURLToPath(new URL("../../../bin/aciimg.js", import.meta.url));
  const logDir = options.logDir ?? join(dirname(defaultStatePath(options.env)), "local");
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const registry = createLocalRegistry(logDir);
  const isOurs = (pid: number, id: string): Promise<boolean> => isOurBackend(registry, cliPath, pid, id);

  async function create(spec: BackendSpec, createOptions: CreateOptions): Promise<BackendRecord> {
    const { apiKey, owner, signal: abort, onPhase } = createOptions;
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    await registry.check();
    // Names the socket and ends the id, so the socket's path is derived, never read from the registry.
    const instance = randomBytes(8).toString("hex");
    const socketPath = socketPathOf(logDir, instance);
    checkSocketPath(socketPath);
    const logFile = registry.logPathOf(instance);
    const log = await open(logFile, "a", 0o600);
    onPhase?.("starting");
    const started = clock.now();
    // Detached: the backend outlives this CLI run (it stops itself or is reaped when idle, not when we exit). Its
    // working directory is its own private one: no config file of the caller's cwd is read.
    const child = spawn(process.execPath, [cliPath, ...backendArgs(spec, socketPath, options.idleExit)], {
      detached: true,
      cwd: logDir,
      stdio: ["ignore", "pipe", log.fd],
      env: { ...backendEnvironment(options.env, apiKey), ACIIMG_BACKEND_MOUNT_ROOT: "1" },
    });
    await log.close();
    const pid = child.pid;
    const endpoint = `unix:${socketPath}`;
    const id = `local:${pid ?? 0}@${instance}`;
    const fail = (message: string, cause?: unknown): Promise<never> =>
      failStart(registry, clock, { pid, id, logFile }, message, cause);
    if (pid === undefined) {
      return fail(`spawning ${process.execPath} failed`, await new Promise((resolve) => child.once("error", resolve)));
    }

    // Registered before it listens: if this process dies mid-create (Ctrl-C, kill -9), the backend is
    // still found by list() and reaped as an orphan instead of running forever unseen.
    const createdAt = new Date(clock.now()).toISOString();
    await registry.register(pid, {
      id,
      name: spec.name,
      pid,
      endpoint,
      createdAt,
      startTime: procStartTime(pid),
      owner,
    });

    const notListening = await checkListening(child, socketPath, startTimeoutMs, abort);
    if (notListening) return fail(notListening.message, notListening.cause);

    onPhase?.("waiting for /health");
    const client = createImaginaryClient({
      endpoint,
      apiKey,
      connectTimeoutMs: 2_000,
      headersTimeoutMs: 5_000,
      bodyTimeoutMs: 5_000,
      connections: 1,
    });
    try {
      const failure = await waitHealthy(client, pid, { clock, startedAt: started, startTimeoutMs, signal: abort });
      if (failure) return await fail(failure.reason, failure.error);
    } finally {
      await client.close();
    }
    onPhase?.("healthy");
    return {
      provider: "local",
      id,
      name: spec.name,
      endpoint,
      apiKey,
      createdAt,
      lastUsed: createdAt,
      status: "running",
      spec,
      pid,
      fileRoot: fileSourceRoot,
    };
  }

  return {
    kind: "local",
    create,
    describeCreate: (spec) => ({ kind: "command", command: backendCommandLine(spec, logDir, options.idleExit) }),

    async inspect(record) {
      const pid = record.pid ?? parseId(record.id)?.pid;
      // Dead pid, or a pid now used by another program: our backend is gone.
      if (pid === undefined || !(await isOurs(pid, record.id))) return { state: "gone" };
      return inspectHealth(record, pid);
    },

    async delete(ref) {
      const parsed = parseId(ref.id);
      if (!parsed) throw new AciimgError("E_INTERNAL", `not a local backend id: ${ref.id}`);
      const read = await registry.read(parsed.pid);
      // Never signal a process that is not our backend; a vanished backend is already deleted.
      if (await isOurs(parsed.pid, ref.id)) await stopProcess(parsed.pid, clock, stopTimeoutMs);
      if (!(await isOurs(parsed.pid, ref.id))) await registry.removeSocket(ref.id);
      // An entry that does not check out is left alone (list() reports it).
      if (read === undefined || knownEntry(read)?.id === ref.id) await registry.forget(parsed.pid, knownEntry(read));
    },

    async list() {
      const refs: BackendRef[] = [];
      for (const pid of await registry.pids()) {
        const entry = await registry.read(pid);
        if (entry === undefined) continue; // removed since readdir
        if ("invalid" in entry) {
          // Not an entry aciimg wrote (or a damaged one): nothing it names is stopped or removed.
          options.onWarning?.(
            `ignored ${registry.entryPath(pid)}: not a registry entry aciimg wrote (${entry.invalid}); ` +
              `nothing it names was stopped or removed. Delete it if you did not put it there.`,
          );
          continue;
        }
        if (await isOurs(pid, entry.id)) {
          refs.push({
            provider: "local",
            id: entry.id,
            name: entry.name,
            createdAt: entry.createdAt,
            ...(entry.owner === undefined ? {} : { owner: entry.owner }),
          });
        } else {
          // Its process is gone, or the pid is now another program's: a stale entry of ours.
          await registry.forget(pid, entry);
        }
      }
      return refs;
    },

    async logs(ref, tail) {
      const parsed = parseId(ref.id);
      const entry = parsed ? knownEntry(await registry.read(parsed.pid)) : undefined;
      if (!entry || entry.id !== ref.id) return "";
      return tailOf(entry.logFile, tail);
    },
  };
}

/** A started backend that did not come up: killed, its entry, socket and log removed, and the log's tail told. */
async function failStart(
  registry: LocalRegistry,
  clock: Clock,
  started: { pid: number | undefined; id: string; logFile: string },
  message: string,
  cause?: unknown,
): Promise<never> {
  const { pid, id, logFile } = started;
  if (pid !== undefined) {
    signal(pid, "SIGKILL");
    const deadline = clock.now() + 2_000;
    while (isProcessAlive(pid) && clock.now() < deadline) await clock.sleep(20);
    await unlink(registry.entryPath(pid)).catch(() => undefined);
  }
  await registry.removeSocket(id);
  const tail = await tailOf(logFile, 20);
  await unlink(logFile).catch(() => undefined);
  throw new AciimgError(
    "E_PROVISION",
    `cannot start the local backend: ${message}${tail ? `\nbackend log:\n${tail}` : ""}`,
    { cause },
  );
}
