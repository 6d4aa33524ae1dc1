/**
 * Process plumbing of the local provider: the `aciimg backend` stdout handshake, signals, log
 * tails and backend ids. Kept apart from the provider's lifecycle logic in local.ts.
 */
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import type { BackendSpec } from "../../engine/types.js";
import { AciimgError } from "../../errors.js";

/**
 * `local:<pid>@<instance>`: the pid, and the random instance name that also names the backend's
 * socket (`backend-<instance>.sock`). Ids of backends that listened on TCP had the port there.
 */
export function parseId(id: string): { pid: number; instance: string } | undefined {
  const match = /^local:(\d+)@([0-9a-f]+)$/.exec(id);
  return match ? { pid: Number(match[1]), instance: match[2] as string } : undefined;
}

/** The backend's socket, derived from its instance name (never read from a registry entry). */
export function socketPathOf(logDir: string, instance: string): string {
  return join(logDir, `backend-${instance}.sock`);
}

/**
 * Refuses a socket path Linux cannot bind (sun_path holds 107 bytes and a NUL) before anything
 * starts, naming the setting that moves it.
 */
export function checkSocketPath(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes <= 107) return;
  throw new AciimgError(
    "E_PROVISION",
    `cannot start the local backend: ` +
      `its socket ${path} would be ${bytes} bytes long, and a Unix socket path holds at most 107. ` +
      `Put the state in a shallower directory (ACIIMG_STATE or --state; ` +
      `the backend's socket lives in local/ beside the state file).`,
  );
}

/** The instance a socket path of socketPathOf names, or undefined for any other path. */
export function instanceOfSocket(path: string): string | undefined {
  return /^backend-([0-9a-f]+)\.sock$/.exec(basename(path))?.[1];
}

/** A backend that stops itself once idle this long, removing its record from this state file first. */
export interface IdleExit {
  idleMs: number;
  statePath: string;
}

/**
 * The `aciimg backend` arguments the provider runs, and `up --dry-run` prints: one list, so the
 * two cannot drift. The key is not here: it travels in the environment.
 */
export function backendArgs(spec: BackendSpec, socketPath: string, idleExit?: IdleExit): string[] {
  return [
    "backend",
    "--socket",
    socketPath,
    "--max-size",
    String(spec.maxUploadBytes),
    "--max-resolution",
    String(spec.maxResolutionMP),
    "--cpu",
    String(spec.cpu),
    ...(spec.maxRenderTimeMs === undefined ? [] : ["--max-render-time", `${spec.maxRenderTimeMs}ms`]),
    ...(idleExit === undefined ? [] : ["--idle-exit", `${idleExit.idleMs}ms`, "--state", idleExit.statePath]),
  ];
}

/**
 * The command line `up --dry-run` shows for a backend of `spec`: exactly the provider's (the same
 * backendArgs), but the key, which travels in the environment, masked, and the random instance
 * that names the socket a placeholder.
 */
export function backendCommandLine(spec: BackendSpec, logDir: string, idleExit?: IdleExit): string {
  const args = backendArgs(spec, socketPathOf(logDir, "<instance>"), idleExit);
  return `ACIIMG_BACKEND_KEY=*** aciimg ${args.map(shellQuote).join(" ")}`;
}

/** An argument as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/** Sends a signal; false when the process is already gone. */
export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

export async function tailOf(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text
      .split("\n")
      .filter((line) => line.length > 0)
      .slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

/** Where `aciimg backend` says it listens: a Unix socket, or a TCP port (run by hand with --host/--port). */
export type Listening = { socket: string } | { port: number };

/**
 * Reads the backend's one stdout line, `{"listening":{"socket":…}}` or `{"listening":{"host":…,"port":…}}`
 * (the `aciimg backend` contract), bounded in time; fails early when the process exits first.
 */
export function readListening(
  stdout: Readable,
  child: ChildProcess,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Listening> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () => finish(new Error(`the backend did not report where it listens within ${timeoutMs}ms`)),
      timeoutMs,
    );
    const finish = (error: Error | undefined, listening?: Listening): void => {
      clearTimeout(timer);
      stdout.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(listening as Listening);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) {
        if (buffered.length > 4096) finish(new Error("the backend wrote an unexpected line on stdout"));
        return;
      }
      try {
        const parsed = JSON.parse(buffered.slice(0, newline)) as { listening?: { port?: unknown; socket?: unknown } };
        const { port, socket } = parsed.listening ?? {};
        if (typeof socket === "string" && socket.length > 0) return finish(undefined, { socket });
        if (typeof port === "number" && Number.isInteger(port) && port > 0) return finish(undefined, { port });
      } catch {
        // reported below
      }
      finish(new Error(`the backend wrote an unexpected line on stdout: ${buffered.slice(0, newline).slice(0, 200)}`));
    };
    const onExit = (code: number | null, sig: NodeJS.Signals | null): void =>
      finish(new Error(`the backend exited before listening (${sig ?? `exit code ${code}`})`));
    const onError = (error: Error): void => finish(error);
    const onAbort = (): void => finish(new AciimgError("E_ABORTED", "starting the local backend was cancelled"));
    stdout.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    // A backend that died at once may have exited before this wait began (the caller awaits
    // between spawn and here): its 'exit' event is gone, but the child keeps its exit state.
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
  });
}

/**
 * Reads where the new backend says it listens, then lets this process exit while the backend runs
 * on (its stdout is done: one line by contract). Undefined when it listens on `socketPath`, else why not.
 */
export async function checkListening(
  child: ChildProcess,
  socketPath: string,
  timeoutMs: number,
  abort: AbortSignal | undefined,
): Promise<{ message: string; cause?: unknown } | undefined> {
  let listening;
  try {
    listening = await readListening(child.stdout as Readable, child, timeoutMs, abort);
  } catch (error) {
    child.stdout?.destroy();
    child.unref();
    return { message: (error as Error).message, cause: error };
  }
  child.stdout?.destroy();
  child.unref();
  if (!("socket" in listening) || listening.socket !== socketPath) {
    return { message: `it reported listening on ${JSON.stringify(listening)}, not on the socket ${socketPath}` };
  }
  return undefined;
}
