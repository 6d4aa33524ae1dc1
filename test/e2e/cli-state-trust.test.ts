/**
 * The state directory is trusted only when it is ours alone (issue 12, point 2): a registry entry
 * planted in `local/` never makes aciimg delete a file or signal a process it names, a state
 * directory (or its `local/`) that others can write or that another user owns is refused with the
 * command that fixes it, and a state file others can read is tightened to 0600 with a warning.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  chown,
  lchown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isProcessAlive } from "../../src/host-process.js";
import { cliForNobody, cannotActAsNobody, foreignFolder, isRoot, NOBODY, nobodysEnv } from "../helpers/users.js";
import { cliPath, createWorkspace, writeJpeg, type Workspace } from "./cli-harness.js";

const nobodysCli = cliForNobody();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function workspace(): Promise<Workspace> {
  const ws = await createWorkspace("aciimg-e2e-trust-");
  cleanups.push(() => ws.cleanup());
  return ws;
}

/** A state with an owner id (so listed backends carrying it count as ours), in a 0700 directory. */
async function ownedState(ws: Workspace): Promise<{ owner: string; registry: string }> {
  const owner = randomBytes(16).toString("hex");
  const registry = join(dirname(ws.statePath), "local");
  await mkdir(registry, { recursive: true, mode: 0o700 });
  await writeFile(ws.statePath, JSON.stringify({ version: 1, owner, backends: {} }), { mode: 0o600 });
  return { owner, registry };
}

/** Starts a long-lived process (killed in cleanup); resolves once it has printed "ready". */
async function bystander(args: string[], options: SpawnOptions = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  cleanups.push(async () => void child.kill("SIGKILL"));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bystander did not start within 10s: ${stderr}`)), 10_000);
    child.stdout?.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bystander exited (${code}): ${stderr}`));
    });
  });
  return child;
}

const LOOP = "process.stdout.write('ready\\n'); setInterval(() => {}, 1e9)";

/** A planted entry that checks out (an old orphan of this state), naming `pid`. */
function plantedEntry(pid: number, owner: string): string {
  return JSON.stringify({
    id: `local:${pid}@1577836800000001`,
    name: "default",
    pid,
    endpoint: "",
    createdAt: "2020-01-01T00:00:00.000Z",
    owner,
  });
}

describe("a planted registry entry", () => {
  it("reap --verbose deletes no file an entry names and signals no process that is not our backend", async () => {
    const ws = await workspace();
    const { owner, registry } = await ownedState(ws);
    const canaries = [join(ws.dir, "canary-a.txt"), join(ws.dir, "canary-b.txt")];
    for (const canary of canaries) await writeFile(canary, "keep me\n");

    // A process of ours whose command line ends like our backend's: `node -e <loop> <cli> backend`.
    const mimic = await bystander(["-e", LOOP, cliPath, "backend"]);
    await writeFile(join(registry, `backend-${mimic.pid}.json`), plantedEntry(mimic.pid as number, owner), {
      mode: 0o600,
    });
    // Entries that name a file outside the registry as their log: one for a pid that has exited, one for the mimic's.
    const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => gone.once("exit", resolve));
    const deadEntry = join(registry, `backend-${gone.pid}.json`);
    const old = {
      name: "default",
      port: 1,
      endpoint: "http://127.0.0.1:1",
      createdAt: "2020-01-01T00:00:00.000Z",
      owner,
    };
    await writeFile(
      deadEntry,
      JSON.stringify({ ...old, id: `local:${gone.pid}@1`, pid: gone.pid, logFile: canaries[0] }),
      { mode: 0o600 },
    );
    const unrelated = await bystander(["-e", LOOP]);
    const unrelatedEntry = join(registry, `backend-${unrelated.pid}.json`);
    await writeFile(
      unrelatedEntry,
      JSON.stringify({ ...old, id: `local:${unrelated.pid}@1`, pid: unrelated.pid, logFile: canaries[1] }),
      { mode: 0o600 },
    );

    const result = await ws.run(["reap", "--verbose"]);
    expect(result.code, result.stderr).toBe(0);
    for (const canary of canaries) expect(await readFile(canary, "utf8")).toBe("keep me\n");
    expect(isProcessAlive(mimic.pid as number)).toBe(true);
    expect(isProcessAlive(unrelated.pid as number)).toBe(true);
    // The entries naming files elsewhere are reported and left
    // alone; the one whose pid is not our backend is forgotten.
    for (const entry of [deadEntry, unrelatedEntry])
      expect(result.stderr).toContain(`aciimg: warning: ignored ${entry}`);
    expect((await readdir(registry)).sort()).toEqual([basename(deadEntry), basename(unrelatedEntry)].sort());
  });

  // Only root can signal another user's process: elsewhere the kernel refuses, whatever aciimg does.
  it("reap never signals a backend-looking process of another user (needs root: starts one as nobody)", async (ctx) => {
    const cannot = await cannotActAsNobody();
    if (cannot) return ctx.skip(cannot);
    const ws = await workspace();
    const { owner, registry } = await ownedState(ws);
    // `node <dir>/aciimg.js backend`, as nobody: the command line of a backend, the uid of someone else.
    const scriptDir = await mkdtemp(join(tmpdir(), "aciimg-e2e-other-"));
    cleanups.push(() => rm(scriptDir, { recursive: true, force: true }));
    await chmod(scriptDir, 0o755);
    await writeFile(join(scriptDir, "aciimg.js"), `${LOOP}\n`, { mode: 0o644 });
    const asNobody = { uid: NOBODY, gid: NOBODY, env: { ...process.env, ...nobodysEnv } };
    const other = await bystander([join(scriptDir, "aciimg.js"), "backend"], asNobody);
    await writeFile(join(registry, `backend-${other.pid}.json`), plantedEntry(other.pid as number, owner), {
      mode: 0o600,
    });

    const result = await ws.run(["reap", "--verbose"]);
    expect(result.code, result.stderr).toBe(0);
    expect(isProcessAlive(other.pid as number)).toBe(true);
  });
});

describe("an untrusted state directory", () => {
  const advice = (dir: string) => `chmod 700 ${dir}`;

  it("status refuses a group-writable state directory (0770) with E_STATE and the chmod that fixes it", async () => {
    const ws = await workspace();
    const stateDir = dirname(ws.statePath);
    await mkdir(stateDir, { mode: 0o700 });
    await chmod(stateDir, 0o770);
    const result = await ws.run(["status"]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(stateDir);
    expect(result.stderr).toContain(advice(stateDir));
    const json = await ws.run(["status", "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout.trim().split("\n").pop() as string)).toMatchObject({ error: { code: "E_STATE" } });
    await chmod(stateDir, 0o700);
  });

  it("process refuses a world-writable state directory (0777) before starting any backend", async () => {
    const ws = await workspace();
    const stateDir = dirname(ws.statePath);
    await mkdir(stateDir, { mode: 0o700 });
    await chmod(stateDir, 0o777);
    await writeJpeg(join(ws.dir, "in.jpg"), 64, 48);
    cleanups.push(() => chmod(stateDir, 0o700)); // so the workspace's `down` can run on the old code
    const result = await ws.run(["process", "in.jpg", "--resize", "20x20", "-o", "out.jpg"]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(advice(stateDir));
    expect(await readdir(stateDir)).toEqual([]);
  });

  it("reap refuses a group-writable local/ registry directory", async () => {
    const ws = await workspace();
    const { registry } = await ownedState(ws);
    await chmod(registry, 0o770);
    const result = await ws.run(["reap", "--verbose"]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(advice(registry));
  });

  // nobody's as root, root's as anyone else.
  it("status refuses a state directory owned by another user, naming the chown that fixes it", async () => {
    const ws = await workspace();
    const theirs = await foreignFolder();
    cleanups.push(() => theirs.remove());
    const result = await ws.run(["status"], { env: { ACIIMG_STATE: join(theirs.dir, "state.json") } });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(`${theirs.dir} belongs to uid ${theirs.uid}`);
    expect(result.stderr).toContain(`chown ${process.getuid?.()}:${process.getgid?.()} ${theirs.dir}`);
  });

  // Links of root's are trusted (root can do anything anyway): another owner needs root's lchown.
  it(
    "a state directory that is a symbolic link another user owns is refused; one of ours is followed " +
      "(needs root: hands the link to nobody)",
    async (context) => {
      if (!isRoot) return context.skip(`needs root: hands a link to the user nobody (uid ${NOBODY})`);
      const ws = await workspace();
      const real = join(ws.dir, "real-state");
      await mkdir(real, { mode: 0o700 });
      const link = dirname(ws.statePath);
      await symlink(real, link);
      const ours = await ws.run(["status"]);
      expect(ours.code, ours.stderr).toBe(0);
      await lchown(link, NOBODY, NOBODY);
      const theirs = await ws.run(["status"]);
      expect(theirs.code, theirs.stderr).toBe(3);
      expect(theirs.stderr).toContain(`${link} is a symbolic link owned by uid ${NOBODY}`);
    },
  );

  // Run as any other user, the tests above are these checks already.
  it("the same checks hold for a user other than root (needs root: runs the CLI as nobody)", async (context) => {
    const cli = await nobodysCli();
    if (typeof cli === "string") return context.skip(cli);
    const ws = await workspace();
    const home = await mkdtemp(join(tmpdir(), "aciimg-e2e-nobody-"));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    await chown(home, NOBODY, NOBODY);
    const stateDir = join(home, "state");
    await mkdir(stateDir, { mode: 0o700 });
    await chown(stateDir, NOBODY, NOBODY);
    const env = { ...nobodysEnv, ACIIMG_STATE: join(stateDir, "state.json") };
    const as = { uid: NOBODY, gid: NOBODY, cwd: home, env };
    const status = () => ws.runCommand(process.execPath, [cli.cliPath, "status"], as);
    const fine = await status();
    expect(fine.code, fine.stderr).toBe(0);
    await chmod(stateDir, 0o775);
    const open = await status();
    expect(open.code, open.stderr).toBe(3);
    expect(open.stderr).toContain(advice(stateDir));
    // A directory root made for nobody is not nobody's.
    await chmod(stateDir, 0o700);
    await chown(stateDir, 0, 0);
    await chmod(stateDir, 0o755);
    const foreign = await status();
    expect(foreign.code, foreign.stderr).toBe(3);
    expect(foreign.stderr).toContain(`uid 0`);
  });
});

describe("a state file others can read", () => {
  it("is tightened to 0600 with a warning on stderr", async () => {
    const ws = await workspace();
    await ownedState(ws);
    await chmod(ws.statePath, 0o644);
    const result = await ws.run(["status"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      `aciimg: warning: ${ws.statePath} was readable by others (0644): it holds backend keys; tightened to 0600`,
    );
    expect((await stat(ws.statePath)).mode & 0o777).toBe(0o600);
    const again = await ws.run(["status"]);
    expect(again.stderr).not.toContain("warning");
  });
});
