/**
 * Process plumbing of the local provider: the `aciimg backend` stdout handshake, signals, log
 * tails and backend ids. Kept apart from the provider's lifecycle logic in local.ts.
 */
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { AciimgError } from "../errors.js";

export function parseId(id: string): { pid: number; port: number } | undefined {
  const match = /^local:(\d+)@(\d+)$/.exec(id);
  return match ? { pid: Number(match[1]), port: Number(match[2]) } : undefined;
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
    return text.split("\n").filter((line) => line.length > 0).slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Reads the backend's one stdout line `{"listening":{"host":…,"port":…}}` (the `aciimg backend`
 * contract), bounded in time; fails early when the process exits first.
 */
export function readListening(stdout: Readable, child: ChildProcess, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => finish(new Error(`the backend did not report a listening port within ${timeoutMs}ms`)), timeoutMs);
    const finish = (error: Error | undefined, port?: number): void => {
      clearTimeout(timer);
      stdout.off("data", onData);
      child.off("exit", onExit);
      child.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(port as number);
    };
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) {
        if (buffered.length > 4096) finish(new Error("the backend wrote an unexpected line on stdout"));
        return;
      }
      try {
        const parsed = JSON.parse(buffered.slice(0, newline)) as { listening?: { port?: unknown } };
        const port = parsed.listening?.port;
        if (typeof port === "number" && Number.isInteger(port) && port > 0) return finish(undefined, port);
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
