/**
 * Tests that act as another user. Only root can hand a file to another user or start a process as
 * one, so such a test says "needs root: …" and skips anywhere else; the other user is `nobody`.
 * A CLI that nobody runs must be one nobody can read: a checkout in a private folder (a 0700 home,
 * a `mktemp -d`) is not, so the CLI is copied into a folder nobody can enter.
 */
import { spawn } from "node:child_process";
import { chmod, chown, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

/** nobody's uid, and its group's gid (nogroup). */
export const NOBODY = 65534;
export const isRoot = process.getuid?.() === 0;

const repo = fileURLToPath(new URL("../../", import.meta.url));

/**
 * What a process run as nobody needs in its environment: no NODE_EXTRA_CA_CERTS, whose file (the
 * ARM simulator's CA, in a folder of the test runner's) nobody cannot read; node warns on every start.
 */
export const nobodysEnv: Record<string, string> = { NODE_EXTRA_CA_CERTS: "" };

interface Ran {
  code: number | null;
  output: string;
}

/** Runs `program` (as nobody when `asNobody`), bounded; never rejects. */
function run(program: string, args: string[], asNobody: boolean): Promise<Ran> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...nobodysEnv };
    const user = asNobody ? { uid: NOBODY, gid: NOBODY } : {};
    const child = spawn(program, args, { cwd: "/", env, stdio: ["ignore", "pipe", "pipe"], ...user });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: -1, output: error.message });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

/** Why this process cannot act as nobody here, or undefined when it can (as root, with a node nobody can run). */
export async function cannotActAsNobody(): Promise<string | undefined> {
  if (!isRoot) return `needs root: acts as the user nobody (uid ${NOBODY})`;
  const probe = await run(process.execPath, ["-e", "0"], true);
  return probe.code === 0 ? undefined : `user nobody (${NOBODY}) cannot run ${process.execPath}: ${probe.output}`;
}

export interface NobodysCli {
  /** bin/aciimg.js of a checkout nobody can read: this one, or a copy of it. */
  cliPath: string;
  /** The command line that runs the CLI as nobody: node and `cliPath`. */
  argv: string[];
}

/**
 * For the top of a test file: a getter for a CLI nobody can run, made on first use, or the reason
 * there is none. The copy, when one was needed, is removed after the file's tests.
 */
export function cliForNobody(): () => Promise<NobodysCli | string> {
  let made: Promise<NobodysCli | string> | undefined;
  let copy: string | undefined;
  afterAll(async () => {
    if (copy) await rm(copy, { recursive: true, force: true });
  });
  const usable = async (cliPath: string): Promise<NobodysCli | string> => {
    const probe = await run(process.execPath, [cliPath, "--version"], true);
    if (probe.code !== 0) return `user nobody (${NOBODY}) cannot run ${cliPath}: ${probe.output}`;
    return { cliPath, argv: [process.execPath, cliPath] };
  };
  const make = async (): Promise<NobodysCli | string> => {
    const cannot = await cannotActAsNobody();
    if (cannot) return cannot;
    const here = await usable(join(repo, "bin", "aciimg.js"));
    if (typeof here !== "string") return here;
    copy = await mkdtemp(join(tmpdir(), "aciimg-cli-for-nobody-"));
    await chmod(copy, 0o755);
    const copied = await copyCheckout(copy);
    return copied ?? (await usable(join(copy, "bin", "aciimg.js")));
  };
  return () => (made ??= make());
}

/**
 * Copies what the CLI runs from (package.json, bin, dist, node_modules) into `to`, readable by all;
 * undefined, or why it could not. node_modules (350 MB) is hard-linked where it can be (one file
 * system, files readable by all, as npm leaves them), else copied.
 */
async function copyCheckout(to: string): Promise<string | undefined> {
  const copy = async (name: string, how: string): Promise<string | undefined> => {
    const copied = await run("cp", [how, join(repo, name), join(to, name)], false);
    if (copied.code !== 0) return `cannot copy ${name} for nobody: ${copied.output}`;
    // Not on hard links: that would change the checkout's own files.
    if (how !== "-Rl") {
      const opened = await run("chmod", ["-R", "a+rX", join(to, name)], false);
      if (opened.code !== 0) return `cannot open the copy of ${name} to nobody: ${opened.output}`;
    }
    return undefined;
  };
  for (const name of ["package.json", "bin", "dist"]) {
    const failed = await copy(name, "-R");
    if (failed) return failed;
  }
  const readable = ((await stat(join(repo, "node_modules", "sharp", "package.json"))).mode & 0o004) !== 0;
  if (readable && (await copy("node_modules", "-Rl")) === undefined) return undefined;
  await rm(join(to, "node_modules"), { recursive: true, force: true });
  return copy("node_modules", "-R");
}

export interface ForeignFolder {
  dir: string;
  /** Its owner, as this process sees it. */
  uid: number;
  remove(): Promise<void>;
}

/**
 * A folder another user owns, for the refusals of what is not ours, as any user: as root a new one
 * (0700) handed to nobody; as anyone else `/`, root's.
 */
export async function foreignFolder(): Promise<ForeignFolder> {
  if (!isRoot) {
    const { uid } = await stat("/");
    if (uid === process.getuid?.()) throw new Error("/ belongs to this user: no folder here belongs to another");
    return { dir: "/", uid, remove: async () => undefined };
  }
  const dir = await mkdtemp(join(tmpdir(), "aciimg-nobodys-"));
  await chown(dir, NOBODY, NOBODY);
  return { dir, uid: NOBODY, remove: () => rm(dir, { recursive: true, force: true }) };
}
