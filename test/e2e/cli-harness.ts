/**
 * Runs the real CLI (`node bin/aciimg.js …`) as a child process against a temp state, for the
 * cli-*.test.ts files. Every workspace's `cleanup()` runs `aciimg down` so no backend outlives a test.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterEach } from "vitest";

// The e2e files wait through the harness; the wait itself is shared with the other tests.
export { until } from "../helpers/wait.js";

export const cliPath = fileURLToPath(new URL("../../bin/aciimg.js", import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  input?: Buffer;
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Run as this user and group (the tests run as root; file permissions do not bind root). */
  uid?: number;
  gid?: number;
}

/** The environment of a CLI run: the test's own, minus anything that would pick Azure or blob state. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      /^(AZURE_|ACIIMG_|AzureWebJobs)/.test(key) ||
      key === "SUBSCRIPTION_ID" ||
      key === "RESOURCE_GROUP"
    )
      continue;
    env[key] = value;
  }
  return env;
}

export interface Workspace {
  dir: string;
  statePath: string;
  env: Record<string, string>;
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Runs any program in the workspace with its environment (e.g. the CLI under `script`). */
  runCommand(program: string, args: string[], options?: RunOptions): Promise<RunResult>;
  /** Starts the CLI and returns the child, for tests that act while it runs. */
  start(args: string[], options?: RunOptions): ReturnType<typeof spawn>;
  state(): Promise<{ backends: Record<string, { pid?: number; endpoint: string; apiKey: string }> }>;
  cleanup(): Promise<void>;
}

/** A temp directory with its own state file and the local provider. */
export async function createWorkspace(prefix = "aciimg-e2e-"): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const statePath = join(dir, "state", "state.json");
  const env = { ...baseEnv(), ACIIMG_STATE: statePath, ACIIMG_PROVIDER: "local" };
  const spawnIn = (program: string, args: string[], options: RunOptions = {}) =>
    spawn(program, args, {
      cwd: options.cwd ?? dir,
      env: { ...env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      uid: options.uid,
      gid: options.gid,
    });
  const start = (args: string[], options: RunOptions = {}) => spawnIn(process.execPath, [cliPath, ...args], options);
  const runCommand = (program: string, args: string[], options: RunOptions = {}): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const child = spawnIn(program, args, options);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on("data", (d: Buffer) => out.push(d));
      child.stderr?.on("data", (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const stdoutBytes = Buffer.concat(out);
        resolve({
          code,
          signal,
          stdout: stdoutBytes.toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          stdoutBytes,
        });
      });
      child.stdin?.end(options.input);
    });
  const run = (args: string[], options: RunOptions = {}): Promise<RunResult> =>
    runCommand(process.execPath, [cliPath, ...args], options);
  return {
    dir,
    statePath,
    env,
    run,
    runCommand,
    start,
    state: async () => JSON.parse(await readFile(statePath, "utf8")),
    cleanup: async () => {
      await run(["down"], { timeoutMs: 30_000 }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh workspace per call, each cleaned up (its backend stopped) after the test that made it. */
export function workspacesFor(prefix: string): () => Promise<Workspace> {
  const open: Workspace[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((ws) => ws.cleanup()));
  });
  return async () => {
    const ws = await createWorkspace(prefix);
    open.push(ws);
    return ws;
  };
}

/** A JPEG made by sharp: a gradient-ish noise image, so it is a real photo-like file. */
export async function writeJpeg(path: string, width: number, height: number): Promise<void> {
  await sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .composite([
      {
        input: Buffer.from(
          `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><circle ` +
            `cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="#fc0"/></svg>`,
        ),
      },
    ])
    .jpeg({ quality: 85 })
    .toFile(path);
}

/** Parses --json output lines. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Records a stand-in imaginary on 127.0.0.1:`port` as the workspace's running local backend, under
 * this test process's pid: `down` then finds no backend process of ours to stop and only forgets it.
 */
export async function recordStandIn(ws: Workspace, port: number, apiKey: string, cpu = 1): Promise<void> {
  const now = new Date().toISOString();
  const record = {
    provider: "local",
    id: `local:${process.pid}@${port}`,
    name: "default",
    endpoint: `http://127.0.0.1:${port}`,
    apiKey,
    createdAt: now,
    lastUsed: now,
    status: "running",
    spec: { name: "default", image: "unused", cpu, memoryInGB: 1.5, maxUploadBytes: 20e6, maxResolutionMP: 18 },
    pid: process.pid,
  };
  await mkdir(dirname(ws.statePath), { recursive: true });
  await writeFile(ws.statePath, JSON.stringify({ version: 1, backends: { default: record } }), { mode: 0o600 });
}

/** The incremental record `process` keeps in an output folder: aciimg's own, not an output. */
export const recordFile = ".aciimg-record.json";

/** The outputs in a folder: its entries, the record aside, sorted. */
export async function outputsIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== recordFile).sort();
}

/** Every output under `dir`, relative, recursively (links listed, not followed), the record aside. */
export async function outputFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name !== recordFile)
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
