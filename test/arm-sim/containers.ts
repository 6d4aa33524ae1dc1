/**
 * The simulator's "containers": each provisioned group runs its real `command` with its real
 * environment, and the image's /start.sh starts a real `src/backend/` process the way
 * Nextcloud's aio-imaginary starts imaginary (start-sh.mjs): the key from IMAGINARY_SECRET (a
 * secureValue in the PUT), TLS from the files the command wrote, `-max-allowed-resolution` from
 * its flags (docs/reference/imaginary-api.md §2.4). Each group gets its own loopback address (127.x.y.z) and
 * port 9000, as ACI gives each group its own IP with the container port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI_PATH = join(repoRoot, "bin", "aciimg.js");
/** The stand-in for the image's /start.sh. */
const START_SH = join(repoRoot, "test", "arm-sim", "start-sh.mjs");

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
  /** Resolves once `text` is in `logs()` (launchBackend's containers; a test's own launcher may omit it). */
  untilLogged?(text: string, signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export type ContainerLauncher = (request: LaunchRequest, signal: AbortSignal) => Promise<RunningContainer>;

function randomLoopback(): string {
  return `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(1, 255)}`;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** A word for /bin/sh: single-quoted. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs the group's `command` as the container would: the real command line (e.g. aciimg's
 * `/bin/sh -c` TLS step) with the group's environment (`value`s and `secureValue`s alike), in a
 * private TMPDIR. The image's /start.sh is played by start-sh.mjs, which runs the built-in backend
 * on this group's loopback address; that name is the only thing rewritten. Waits for the backend's
 * `listening` line.
 */
export const launchBackend: ContainerLauncher = async (request, signal) => {
  const containerEnv = Object.fromEntries(request.env.map((e) => [e.name, e.secureValue ?? e.value ?? ""]));
  const startSh = `${shellWord(process.execPath)} ${shellWord(START_SH)}`;
  const command = request.command.length > 0 ? request.command : ["/start.sh"];
  const [program, ...args] =
    command[0] === "/start.sh"
      ? [process.execPath, START_SH, ...command.slice(1)]
      : command.map((word) => word.replaceAll("/start.sh", startSh));
  for (let attempt = 1; attempt <= 8; attempt++) {
    const ip = randomLoopback();
    const tmp = await mkdtemp(join(tmpdir(), "aciimg-sim-container-"));
    const child = spawn(program as string, args, {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        ...containerEnv,
        PORT: String(request.port),
        TMPDIR: tmp,
        ACIIMG_SIM_IP: ip,
        ACIIMG_SIM_IMAGE: request.image,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const removeTmp = (): Promise<void> => rm(tmp, { recursive: true, force: true });
    let output = "";
    const grew = new EventEmitter();
    const append = (text: string) => {
      output += text;
      grew.emit("grew");
    };
    child.stderr?.on("data", (chunk: Buffer) => append(chunk.toString()));
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<boolean>((resolve) => {
      lines.on("line", (line) => {
        append(`${line}\n`);
        if (line.includes('"listening"')) resolve(true);
      });
      child.once("exit", () => resolve(false));
    });
    const bound = AbortSignal.any([signal, AbortSignal.timeout(20_000)]);
    const aborted = new Promise<false>((resolve) =>
      bound.addEventListener("abort", () => resolve(false), { once: true }),
    );
    const ok = await Promise.race([ready, aborted]);
    if (ok) {
      return {
        ip,
        port: request.port,
        pid: child.pid,
        logs: () => output,
        untilLogged: (text, until) =>
          new Promise<void>((resolve, reject) => {
            const settle = (error?: unknown) => {
              grew.off("grew", check);
              until.removeEventListener("abort", abort);
              if (error) reject(error);
              else resolve();
            };
            const check = () => output.includes(text) && settle();
            const abort = () => settle(until.reason);
            grew.on("grew", check);
            until.addEventListener("abort", abort, { once: true });
            if (until.aborted) abort();
            else check();
          }),
        stop: () => stopChild(child).then(removeTmp),
      };
    }
    await stopChild(child);
    await removeTmp();
    if (signal.aborted) throw new Error("container launch aborted");
    if (!/EADDRINUSE/.test(output)) throw new Error(`container failed to start: ${output.slice(-2000)}`);
  }
  throw new Error("container failed to start: no free loopback address after 8 attempts");
};
