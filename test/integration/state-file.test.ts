import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isAciimgError } from "../../src/errors.js";
import { createFileStateStore } from "../../src/state/file.js";
import { manualClock } from "../helpers/manual-clock.js";
import { describeStateStore, sampleRecord } from "../helpers/state-contract.js";
import { foreignFolder } from "../helpers/users.js";

const repo = new URL("../../", import.meta.url);
const distFileStore = new URL("dist/state/file.js", repo).href;

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "aciimg-state-"));
}

describeStateStore("JSON file", async () => {
  const dir = await tempDir();
  return {
    store: createFileStateStore({ path: join(dir, "nested", "state.json") }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

/** Starts a node process that takes the state lock (through the real store) and holds it; resolves once it holds it. */
async function holdLockInChild(statePath: string): Promise<ChildProcess> {
  const script = `
    const { createFileStateStore } = await import(${JSON.stringify(distFileStore)});
    const store = createFileStateStore({ path: ${JSON.stringify(statePath)} });
    await store.update(async () => {
      process.stdout.write("locked\\n");
      await new Promise(() => setInterval(() => {}, 1000));
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("child did not take the lock within 10s")), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("locked")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code})`));
    });
  });
  return child;
}

function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

describe("JSON file state", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  async function workspace(): Promise<string> {
    const dir = await tempDir();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it("writes the file with mode 0600 in a 0700 directory it creates, leaving no temp files", async () => {
    const dir = await workspace();
    const path = join(dir, "made", "state.json");
    const store = createFileStateStore({ path });
    await store.update((state) => {
      state.backends.default = sampleRecord("default");
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "made"))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(dir, "made"))).toEqual(["state.json"]);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({
      version: 1,
      backends: { default: { apiKey: "key-of-default" } },
    });
  });

  it("keeps the mode 0600 when an existing file was more permissive", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    await writeFile(path, JSON.stringify({ version: 1, backends: {} }), { mode: 0o644 });
    await createFileStateStore({ path }).update((state) => {
      state.backends.default = sampleRecord("default");
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("tightens a state file others can read to 0600 when it reads it, and says so once", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    await writeFile(path, JSON.stringify({ version: 1, backends: {} }));
    await chmod(path, 0o644);
    const warnings: string[] = [];
    const store = createFileStateStore({ path, onWarning: (message) => warnings.push(message) });
    await store.read();
    await store.read();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(warnings).toEqual([`${path} was readable by others (0644): it holds backend keys; tightened to 0600`]);
  });

  it("refuses, for read and update alike, a directory others can write, and creates nothing in it", async () => {
    const dir = await workspace();
    const shared = join(dir, "shared");
    await mkdir(shared);
    await chmod(shared, 0o775);
    const store = createFileStateStore({ path: join(shared, "state.json") });
    for (const attempt of [() => store.read(), () => store.update((state) => void (state.backends = {}))]) {
      await expect(attempt()).rejects.toMatchObject({
        code: "E_STATE",
        message: expect.stringContaining(`writable by its group (mode 0775)`),
      });
      await expect(attempt()).rejects.toMatchObject({ message: expect.stringContaining(`chmod 700 ${shared}`) });
    }
    expect(await readdir(shared)).toEqual([]);
  });

  // nobody's as root, root's as anyone else.
  it("refuses, for read and update alike, a directory another user owns, and creates nothing in it", async () => {
    const theirs = await foreignFolder();
    cleanups.push(() => theirs.remove());
    const before = await readdir(theirs.dir);
    const store = createFileStateStore({ path: join(theirs.dir, "state.json") });
    for (const attempt of [() => store.read(), () => store.update((state) => void (state.backends = {}))]) {
      const refusal = `${theirs.dir} belongs to uid ${theirs.uid}`;
      await expect(attempt()).rejects.toMatchObject({ code: "E_STATE", message: expect.stringContaining(refusal) });
    }
    expect(await readdir(theirs.dir)).toEqual(before);
  });

  it("rejects a corrupt file with E_STATE naming the file and the way out, and leaves it untouched", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    const corrupt = '{"version":1,"backends":{"default":';
    await writeFile(path, corrupt);
    const store = createFileStateStore({ path });
    for (const attempt of [() => store.read(), () => store.update((state) => void (state.backends = {}))]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAciimgError(error) && error.code).toBe("E_STATE");
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain(`mv ${path} ${path}.bak`);
    }
    expect(await readFile(path, "utf8")).toBe(corrupt);
  });

  it("rejects a state of a newer schema version and leaves it untouched", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    const newer = JSON.stringify({ version: 2, backends: {}, somethingNew: true });
    await writeFile(path, newer);
    const store = createFileStateStore({ path });
    const error = await store
      .update(() => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isAciimgError(error) && error.code).toBe("E_STATE");
    expect((error as Error).message).toMatch(/version 2.*newer aciimg/);
    expect((error as Error).message).toContain(path);
    expect(await readFile(path, "utf8")).toBe(newer);
  });

  it("reads an owner id, and rejects a malformed one rather than making a new one", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    await writeFile(path, JSON.stringify({ version: 1, owner: "abc123", backends: {} }));
    expect(await createFileStateStore({ path }).read()).toEqual({ version: 1, owner: "abc123", backends: {} });
    await writeFile(path, JSON.stringify({ version: 1, owner: 42, backends: {} }));
    await expect(createFileStateStore({ path }).read()).rejects.toMatchObject({
      code: "E_STATE",
      message: expect.stringContaining('"owner"'),
    });
  });

  it("rejects a malformed backend record rather than guessing", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    await writeFile(path, JSON.stringify({ version: 1, backends: { default: { id: 3 } } }));
    await expect(createFileStateStore({ path }).read()).rejects.toMatchObject({ code: "E_STATE" });
  });

  it("recovers a lock left by a kill -9'd process without waiting for the time bound", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    const child = await holdLockInChild(path);
    expect((await stat(`${path}.lock`)).isFile()).toBe(true);
    child.kill("SIGKILL");
    await exitOf(child);
    // lockTimeoutMs far below the 30 s stale age: only the dead-pid rule can let this through (else
    // the update rejects with E_STATE when the 5 s lock wait runs out, and the test fails on it).
    await createFileStateStore({ path, lockTimeoutMs: 5_000 }).update((state) => {
      state.backends.after = sampleRecord("after");
    });
    expect(Object.keys((await createFileStateStore({ path }).read()).backends)).toEqual(["after"]);
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("removes the temporaries of writers killed mid-write (process gone, file old), and nothing else", async () => {
    const dir = await workspace();
    await chmod(dir, 0o700);
    const path = join(dir, "state.json");
    const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await exitOf(gone);
    const dead = gone.pid ?? 0;
    const hourAgo = new Date(Date.now() - 3_600_000);
    const planted = {
      removed: [
        `state.json.${dead}.0123456789ab.tmp`,
        `state.json.lock.${dead}.0123456789ab.tmp`,
        `state.json.lock.break.${dead}.0123456789ab.tmp`,
      ],
      // fresh; its writer alive (a stopped one keeps its temporary); not the state's; not a file
      kept: [
        `state.json.${dead}.aaaaaaaaaaaa.tmp`,
        `state.json.${process.pid}.bbbbbbbbbbbb.tmp`,
        `other.json.${dead}.cccccccccccc.tmp`,
        `state.json.${dead}.dddddddddddd.tmp`,
      ],
    };
    for (const name of [...planted.removed, ...planted.kept.slice(1, 3)]) {
      await writeFile(join(dir, name), "{}");
      await utimes(join(dir, name), hourAgo, hourAgo);
    }
    await writeFile(join(dir, planted.kept[0] ?? ""), "{}");
    await mkdir(join(dir, planted.kept[3] ?? ""));
    await utimes(join(dir, planted.kept[3] ?? ""), hourAgo, hourAgo);

    // An update that changes nothing still sweeps.
    await createFileStateStore({ path }).update(() => undefined);
    expect((await readdir(dir)).sort()).toEqual([...planted.kept].sort());
  });

  it("waits for a live lock holder and fails with E_STATE naming the lock file after the bound", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    const child = await holdLockInChild(path);
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exitOf(child);
    });
    // The wait runs on the store's clock: it gives up once more than 400 ms of that clock have passed.
    const clock = manualClock(Date.now());
    let settled = false;
    const update = createFileStateStore({ path, lockTimeoutMs: 400, clock })
      .update(() => undefined)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
      .finally(() => (settled = true));
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await clock.advance(400);
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    expect(settled).toBe(false);
    await clock.advance(200);
    const error = await update;
    expect(isAciimgError(error) && error.code).toBe("E_STATE");
    expect((error as Error).message).toContain(`${path}.lock`);
    expect((error as Error).message).toContain(`process ${child.pid}`);
  });

  it("serializes updates from separate processes", async () => {
    const dir = await workspace();
    const path = join(dir, "state.json");
    const script = (index: number): string => `
      const { createFileStateStore } = await import(${JSON.stringify(distFileStore)});
      const store = createFileStateStore({ path: ${JSON.stringify(path)} });
      for (let i = 0; i < 5; i++) {
        await store.update((state) => {
          const rec = state.backends.counter;
          rec.lastUsed = new Date(Date.parse(rec.lastUsed) + 1).toISOString();
          state.backends["p${index}"] = { ...rec, id: "p${index}", name: "p${index}" };
        });
      }`;
    await createFileStateStore({ path }).update((state) => {
      state.backends.counter = sampleRecord("counter", { lastUsed: new Date(0).toISOString() });
    });
    const children = Array.from({ length: 6 }, (_, index) =>
      spawn(process.execPath, ["--input-type=module", "-e", script(index)], { stdio: "inherit" }),
    );
    const codes = await Promise.all(
      children.map((child) => new Promise<number | null>((resolve) => child.once("exit", resolve))),
    );
    expect(codes).toEqual(Array(6).fill(0));
    const state = await createFileStateStore({ path }).read();
    expect(Date.parse(state.backends.counter?.lastUsed ?? "")).toBe(30);
    expect(Object.keys(state.backends).length).toBe(7);
  });
});
