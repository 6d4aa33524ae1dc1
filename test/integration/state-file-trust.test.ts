/**
 * The state directory cannot be swapped under a running store (issue 22, point 6): its parents must
 * be ones no one else can rename entries in, the state file must be ours, and both are checked on
 * every update, not once per store. Tests that hand files to `nobody` (uid 65534) need root and say
 * so when skipped; the attacker's moves are made by a real process running as nobody.
 */
import { spawn } from "node:child_process";
import { chmod, chown, lchown, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import { createFileStateStore } from "../../src/state/file.js";
import { sampleRecord } from "../helpers/state-contract.js";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A temp folder (0755, so `nobody` can reach what the test opens up to it inside). */
async function workspace(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "aciimg-state-trust-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  return dir;
}

function needsRoot(context: TestContext): void {
  if (!isRoot) context.skip("needs root: hands files and folders to nobody (uid 65534)");
}

/**
 * Runs `script` in /bin/sh as nobody, with `args` as $1…; resolves with its exit code and stderr,
 * bounded. The shell, not node: a node installed in a private folder (a 0700 checkout's or CI's
 * own) is one nobody cannot execute.
 */
function asNobody(script: string, ...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script, "sh", ...args], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("a state directory someone else could swap", () => {
  it(
    "a running store whose parent became " +
      "writable by others refuses the next update after nobody swaps in their state",
    async (context) => {
      needsRoot(context);
      const dir = await workspace();
      const shared = join(dir, "drop");
      await mkdir(shared, { mode: 0o755 });
      const stateDir = join(shared, "state");
      const path = join(stateDir, "state.json");
      const store = createFileStateStore({ path });
      await store.update((state) => {
        state.backends.default = sampleRecord("default", { endpoint: "unix:/ours.sock" });
      });
      // The drop folder is opened up (not sticky); nobody renames our state folder away and plants
      // one of theirs whose record names their own socket, all while the store is in use.
      await chmod(shared, 0o777);
      const planted = JSON.stringify({
        version: 1,
        backends: { default: sampleRecord("default", { endpoint: "unix:/tmp/theirs.sock" }) },
      });
      // nobody renames our state folder away and plants theirs (0700 folder, 0600 file) in its place.
      const attack = await asNobody(
        'mv "$1" "$1.old" && mkdir -m 700 "$1" && umask 077 && printf %s "$3" > "$2"',
        stateDir,
        path,
        planted,
      );
      expect(attack, attack.stderr).toMatchObject({ code: 0 });

      let seen: string | undefined;
      const next = store.update((state) => void (seen = state.backends.default?.endpoint));
      await expect(next).rejects.toMatchObject({
        code: "E_STATE",
        message: expect.stringContaining(`inside ${shared}, which every user can write (mode 0777, not sticky)`),
      });
      expect(seen).toBeUndefined();
      await expect(store.read()).rejects.toMatchObject({ code: "E_STATE" });
      // Even were the parent fine again, their folder and file are not ours.
      await chmod(shared, 0o755);
      await expect(store.read()).rejects.toMatchObject({
        code: "E_STATE",
        message: expect.stringContaining(`${stateDir} belongs to uid ${NOBODY}`),
      });
      expect(await readFile(path, "utf8")).toBe(planted);
    },
  );

  it("refuses a parent others can write unless it is sticky, and creates nothing there", async () => {
    const dir = await workspace();
    const open = join(dir, "open");
    await mkdir(open);
    await chmod(open, 0o777);
    const store = createFileStateStore({ path: join(open, "state", "state.json") });
    await expect(store.update((state) => void (state.backends = {}))).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`chmod go-w ${open}`),
    });
    await expect(store.read()).rejects.toMatchObject({ code: "E_STATE" });
    expect(await readdir(open)).toEqual([]);
    // Sticky, as /tmp: no one else can rename or remove what is ours in it.
    await chmod(open, 0o1777);
    await store.update((state) => void (state.backends.default = sampleRecord("default")));
    expect(Object.keys((await store.read()).backends)).toEqual(["default"]);
  });

  it("refuses a parent another user owns, and a link to the state directory another user owns", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    const theirs = join(dir, "theirs");
    await mkdir(theirs, { mode: 0o755 });
    await mkdir(join(theirs, "state"), { mode: 0o700 });
    await chown(theirs, NOBODY, NOBODY);
    await expect(createFileStateStore({ path: join(theirs, "state", "state.json") }).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`inside ${theirs}, which belongs to uid ${NOBODY}`),
    });
    // A link on the way (not the state directory itself) that nobody owns: they could point it anywhere.
    const real = join(dir, "real");
    await mkdir(join(real, "state"), { recursive: true, mode: 0o700 });
    const via = join(dir, "via");
    await symlink(real, via);
    await createFileStateStore({ path: join(via, "state", "state.json") }).read();
    await lchown(via, NOBODY, NOBODY);
    await expect(createFileStateStore({ path: join(via, "state", "state.json") }).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`through ${via}, which is a symbolic link owned by uid ${NOBODY}`),
    });
  });

  it("refuses a state file another user owns, or a link in its place, and leaves it as it is", async (context) => {
    needsRoot(context);
    const dir = await workspace();
    const stateDir = join(dir, "state");
    await mkdir(stateDir, { mode: 0o700 });
    const path = join(stateDir, "state.json");
    const planted = JSON.stringify({
      version: 1,
      backends: { default: sampleRecord("default", { endpoint: "unix:/tmp/theirs.sock" }) },
    });
    await writeFile(path, planted, { mode: 0o600 });
    await chown(path, NOBODY, NOBODY);
    const store = createFileStateStore({ path });
    await expect(store.read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`${path} belongs to uid ${NOBODY}`),
    });
    await expect(store.update(() => undefined)).rejects.toMatchObject({ code: "E_STATE" });
    expect(await readFile(path, "utf8")).toBe(planted);

    await rm(path);
    const elsewhere = join(dir, "elsewhere.json");
    await writeFile(elsewhere, planted, { mode: 0o600 });
    await symlink(elsewhere, path);
    await expect(store.read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining(`${path} is a symbolic link`),
    });
  });
});
