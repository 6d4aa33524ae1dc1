/**
 * The simulator's "containers": each provisioned group runs a real `src/backend/` process
 * (`node bin/aciimg.js backend`), started like the nextcloud/aio-imaginary image would start
 * imaginary: the key comes from the group's IMAGINARY_SECRET env var (a secureValue in the PUT),
 * `-max-allowed-resolution` from the command /start.sh is given (imaginary-api.md §2.4).
 * Each group gets its own loopback address (127.x.y.z) and port 9000, as ACI gives each group
 * its own IP with the container port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI_PATH = join(repoRoot, "bin", "aciimg.js");

export interface ContainerEnv {
  name: string;
  value?: string;
  secureValue?: string;
}

export interface LaunchRequest {
  image: string;
  command: string[];
  env: ContainerEnv[];
  port: number;
}

export interface RunningContainer {
  ip: string;
  port: number;
  pid: number | undefined;
  /** stdout + stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

export type ContainerLauncher = (request: LaunchRequest, signal: AbortSignal) => Promise<RunningContainer>;

function randomLoopback(): string {
  return `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
}

/** The value after a Go-style flag in `args` (last one wins, like Go's flag package). */
function lastFlag(args: string[], flag: string): string | undefined {
  let value: string | undefined;
  args.forEach((arg, i) => {
    if (arg === flag || arg === `-${flag}`) value = args[i + 1];
    else if (arg.startsWith(`${flag}=`) || arg.startsWith(`-${flag}=`)) value = arg.slice(arg.indexOf("=") + 1);
  });
  return value;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** Starts `node bin/aciimg.js backend --host <ip> --port <port>` and waits for its `listening` line. */
export const launchBackend: ContainerLauncher = async (request, signal) => {
  const envOf = (name: string) => {
    const e = request.env.find((v) => v.name === name);
    return e?.secureValue ?? e?.value;
  };
  const key = envOf("IMAGINARY_SECRET");
  const maxResolution = lastFlag(request.command, "-max-allowed-resolution");
  for (let attempt = 1; attempt <= 8; attempt++) {
    const ip = randomLoopback();
    const child = spawn(process.execPath, [CLI_PATH, "backend", "--host", ip, "--port", String(request.port)], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        ...(key ? { ACIIMG_BACKEND_KEY: key } : {}),
        ...(maxResolution ? { ACIIMG_MAX_RESOLUTION: maxResolution } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<boolean>((resolve) => {
      lines.on("line", (line) => {
        output += `${line}\n`;
        if (line.includes('"listening"')) resolve(true);
      });
      child.once("exit", () => resolve(false));
    });
    const bound = AbortSignal.any([signal, AbortSignal.timeout(20_000)]);
    const aborted = new Promise<false>((resolve) => bound.addEventListener("abort", () => resolve(false), { once: true }));
    const ok = await Promise.race([ready, aborted]);
    if (ok) {
      return {
        ip,
        port: request.port,
        pid: child.pid,
        logs: () => output,
        stop: () => stopChild(child),
      };
    }
    await stopChild(child);
    if (signal.aborted) throw new Error("container launch aborted");
    if (!/EADDRINUSE/.test(output)) throw new Error(`container failed to start: ${output.slice(-2000)}`);
  }
  throw new Error("container failed to start: no free loopback address after 8 attempts");
};
