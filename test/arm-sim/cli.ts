/**
 * Runs the spawned `aciimg` CLI against an ARM simulator: the real SDK and the real
 * DefaultAzureCredential (managed identity) in the child, trusting the simulator through
 * NODE_EXTRA_CA_CERTS. Bounded: a run that does not finish in time is killed and fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { CLI_PATH } from "./containers.js";
import { FAST_ENV } from "./harness.js";
import type { ArmSim } from "./server.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Told each stdout line as it comes, with the stderr so far and the child (to signal it mid-run). */
export type LineWatcher = (line: string, stderr: string, child: ChildProcess) => void;

export type SimCli = (
  args: string[],
  env?: Record<string, string | undefined>,
  timeoutMs?: number,
  watch?: LineWatcher,
  cwd?: string,
) => Promise<CliRun>;

/** A CLI runner in `dir` (or `cwd`) with its state at `dir/state.json` (override ACIIMG_STATE per run). */
export function simCli(sim: ArmSim, dir: string): SimCli {
  return (args, env = {}, timeoutMs = 60_000, watch, cwd = dir) =>
    new Promise((resolve, reject) => {
      const merged: Record<string, string | undefined> = {
        PATH: process.env.PATH,
        HOME: dir,
        ...sim.env(),
        ...FAST_ENV,
        ACIIMG_STATE: join(dir, "state.json"),
        ...env,
      };
      const child = spawn(process.execPath, [CLI_PATH, ...args], {
        cwd,
        env: Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined)),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      createInterface({ input: child.stdout }).on("line", (line) => {
        stdout += `${line}\n`;
        watch?.(line, stderr, child);
      });
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`aciimg ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      // "close", not "exit": every stdout line has been read by then.
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
}

/** The last stdout line as JSON (the `--json` result, or the error line). */
export function lastJson(run: CliRun): Record<string, unknown> {
  return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
}
