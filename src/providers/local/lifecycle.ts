/**
 * The local backend's process lifecycle: is a pid our backend (before it is signalled), stopping
 * it, waiting for a new one's /health and asking a live one's. The spawn and the registry are in
 * local.ts and registry.ts; the stdout handshake, signals and ids in process.ts.
 */
import { basename, dirname } from "node:path";
import { instanceOfSocket, signal } from "./process.js";
import { createLocalRegistry, knownEntry, type LocalRegistry } from "./registry.js";
import { AciimgError, isAciimgError } from "../../errors.js";
import { createImaginaryClient, type ImaginaryClient } from "../../client/client.js";
import { waitForHealth } from "../../client/health-wait.js";
import { hasProcFs, isProcessAlive, procArgv, procStartTime, procUids } from "../../host-process.js";
import type { BackendRecord, Clock, LiveState } from "../../engine/types.js";

/**
 * Does `pid` run `node <cli> backend …` as this user? The pid comes from a file (a record, a
 * registry entry), so before it is signalled /proc must show our backend's command line (the
 * script of this or another aciimg install, then `backend`) and our uid. Where there is no /proc
 * (macOS) only liveness can be checked, and the private registry directory is the guard.
 */
export function runsOurBackend(pid: number, cliPath: string): boolean {
  if (!hasProcFs()) return true;
  const argv = procArgv(pid);
  const uids = procUids(pid);
  if (argv === undefined || uids === undefined) return false;
  const script = argv[1];
  const isBackendCommand =
    script !== undefined && argv[2] === "backend" && (script === cliPath || basename(script) === "aciimg.js");
  return isBackendCommand && uids.real === process.getuid?.() && uids.effective === process.geteuid?.();
}

/**
 * Is `pid` the backend `id` names? Alive, our backend's command run by us (`runsOurBackend`), and,
 * when our registry knows its start time, started at that time. Guards `delete` against signalling
 * an unrelated process: one that reused the pid, or one a planted entry or record names.
 */
export async function isOurBackend(
  registry: LocalRegistry,
  cliPath: string,
  pid: number,
  id: string,
): Promise<boolean> {
  if (!isProcessAlive(pid) || !runsOurBackend(pid, cliPath)) return false;
  const entry = knownEntry(await registry.read(pid));
  if (entry && entry.id !== id) return false;
  if (entry?.startTime !== undefined) {
    const now = procStartTime(pid);
    if (now !== undefined && now !== entry.startTime) return false;
  }
  return true;
}

/** Resolves whether `pid` exited within `boundMs`, looking every 25 ms. */
async function hasExited(pid: number, clock: Clock, boundMs: number): Promise<boolean> {
  const deadline = clock.now() + boundMs;
  while (clock.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await clock.sleep(25);
  }
  return !isProcessAlive(pid);
}

/**
 * SIGTERM, then SIGKILL after `stopTimeoutMs` (only to the same
 * process); fails when even that does not end it within 2 s.
 */
export async function stopProcess(pid: number, clock: Clock, stopTimeoutMs: number): Promise<void> {
  const startTime = procStartTime(pid);
  if (!signal(pid, "SIGTERM")) return;
  if (await hasExited(pid, clock, stopTimeoutMs)) return;
  // The pid may have been freed and taken by another process while we waited: SIGKILL only ours.
  if (procStartTime(pid) !== startTime) return;
  signal(pid, "SIGKILL");
  if (!(await hasExited(pid, clock, 2_000))) {
    throw new AciimgError("E_INTERNAL", `backend process ${pid} did not exit after SIGKILL within 2s`);
  }
}

/** Why a new backend did not become healthy, and the last error seen. */
export interface StartFailure {
  reason: string;
  error: unknown;
}

/**
 * Waits for the new backend `pid` to answer /health: undefined once it does, else why not. Gives
 * up when cancelled, when `startTimeoutMs` has passed since `startedAt`, or when the process exited.
 */
export async function waitHealthy(
  client: ImaginaryClient,
  pid: number,
  bounds: { clock: Clock; startedAt: number; startTimeoutMs: number; signal?: AbortSignal | undefined },
): Promise<StartFailure | undefined> {
  const { clock, startedAt, startTimeoutMs } = bounds;
  let failure: StartFailure | undefined;
  // Any failed probe (no answer yet, a refused key, an error) is retried until one of these holds.
  const givesUp = (error: unknown): boolean => {
    if (isAciimgError(error) && error.code === "E_ABORTED") failure = { reason: "cancelled", error };
    else if (clock.now() - startedAt > startTimeoutMs)
      failure = { reason: `no healthy /health within ${startTimeoutMs}ms`, error };
    else if (!isProcessAlive(pid)) failure = { reason: "the backend exited", error };
    return failure !== undefined;
  };
  try {
    await waitForHealth(client, {
      clock,
      signal: bounds.signal,
      firstDelayMs: 20,
      maxDelayMs: 250,
      onAttempt: (probe) => givesUp(probe.error),
      onError: (error) => !givesUp(error),
    });
  } catch (error) {
    if (failure) return failure;
    // Cancelled between probes or during a pause.
    if (bounds.signal?.aborted) return { reason: "cancelled", error };
    throw error;
  }
  return failure;
}

/** A running backend's view of itself: its id, and the removal of what the provider keeps for it. */
export interface LocalSelf {
  /** `local:<pid>@<instance>`, as the provider recorded it. */
  id: string;
  /** Removes its registry entry, socket and log, as `delete` does once it has stopped serving. */
  forget(): Promise<void>;
}

/**
 * The backend listening on `socketPath` (one the provider named, in its registry directory), as
 * the backend process itself sees it (`aciimg backend --idle-exit`); undefined for another path.
 */
export function localSelf(socketPath: string, pid: number = process.pid): LocalSelf | undefined {
  const instance = instanceOfSocket(socketPath);
  if (instance === undefined) return undefined;
  const id = `local:${pid}@${instance}`;
  const registry = createLocalRegistry(dirname(socketPath));
  return {
    id,
    async forget() {
      const entry = knownEntry(await registry.read(pid));
      if (entry?.id === id) await registry.forget(pid, entry);
    },
  };
}

/** Asks our live backend process for /health: running, gone (another server refuses our key), or failed (wedged). */
export async function inspectHealth(record: BackendRecord, pid: number): Promise<LiveState> {
  const client = createImaginaryClient({
    endpoint: record.endpoint,
    apiKey: record.apiKey,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    connections: 1,
  });
  try {
    await client.health();
    return { state: "running", endpoint: record.endpoint };
  } catch (error) {
    const status = isAciimgError(error) ? error.detail?.status : undefined;
    // Our process lives but the endpoint refuses our key: another server answers there, so the
    // backend this record describes is not reachable any more. Gone (the engine starts a new one).
    if (status === 401) return { state: "gone" };
    // Our process lives but does not answer: wedged or dying. Failed, so the engine replaces it.
    return {
      state: "failed",
      detail: `backend process ${pid} is alive but ${record.endpoint}/health fails: ${(error as Error).message}`,
    };
  } finally {
    await client.close();
  }
}
