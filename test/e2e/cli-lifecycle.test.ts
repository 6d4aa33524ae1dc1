/**
 * The provision → proxy → reap cycle through the spawned CLI, on cold states: concurrent first
 * runs, a corrupt state file, a killed backend, a stale lock from a kill -9, reap during a batch.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { jsonLines, workspacesFor, writeJpeg, until, type Workspace } from "./cli-harness.js";
import { isProcessAlive } from "../../src/host-process.js";

const workspace = workspacesFor("aciimg-e2e-life-");

async function workspaceWithPhoto(): Promise<Workspace> {
  const ws = await workspace();
  await writeJpeg(join(ws.dir, "photo.jpg"), 400, 300);
  return ws;
}

describe("aciimg lifecycle on the local provider", () => {
  it("20 aciimg process runs started at once on a cold state start exactly one backend", async () => {
    const ws = await workspaceWithPhoto();
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        ws.run(["process", "photo.jpg", "--resize", "40x30", "-o", `out-${i}/`], { timeoutMs: 120_000 }),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    for (let i = 0; i < 20; i++) expect(existsSync(join(ws.dir, `out-${i}`, "photo.jpg"))).toBe(true);
    // The local provider writes one log file per backend it spawns.
    const logs = (await readdir(join(dirname(ws.statePath), "local"))).filter((name) => /^backend-.*\.log$/.test(name));
    expect(logs).toHaveLength(1);
  }, 150_000);

  it("a corrupt state file stops with exit 3 naming the file, and is not overwritten", async () => {
    const ws = await workspaceWithPhoto();
    await mkdir(dirname(ws.statePath), { recursive: true });
    await writeFile(ws.statePath, "{ this is not json");
    const result = await ws.run(["process", "photo.jpg", "--resize", "40x30", "-o", "out/"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(ws.statePath);
    expect(await readFile(ws.statePath, "utf8")).toBe("{ this is not json");
    expect(existsSync(join(ws.dir, "out", "photo.jpg"))).toBe(false);
  });

  it("a backend killed between two calls is provisioned again and the next call succeeds", async () => {
    const ws = await workspaceWithPhoto();
    const first = await ws.run(["process", "photo.jpg", "--resize", "40x30", "-o", "out1/"]);
    expect(first.code, first.stderr).toBe(0);
    const pid = (await ws.state()).backends.default?.pid as number;
    expect(isProcessAlive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    await until(() => !isProcessAlive(pid), `backend ${pid} to die`);
    const second = await ws.run(["process", "photo.jpg", "--resize", "40x30", "-o", "out2/"]);
    expect(second.code, second.stderr).toBe(0);
    expect(existsSync(join(ws.dir, "out2", "photo.jpg"))).toBe(true);
    const next = (await ws.state()).backends.default?.pid as number;
    expect(next).not.toBe(pid);
    expect(isProcessAlive(next)).toBe(true);
  });

  it("a lock left by a kill -9'd process does not wedge the next run", async () => {
    const ws = await workspaceWithPhoto();
    await mkdir(dirname(ws.statePath), { recursive: true });
    const lockModule = fileURLToPath(new URL("../../dist/state/lock.js", import.meta.url));
    const clockModule = fileURLToPath(new URL("../../dist/clock.js", import.meta.url));
    // A real holder of the real lock, killed while holding it. It holds until killed; the bound
    // only keeps a holder from outliving a test that failed before the kill.
    const holdBoundMs = 120_000;
    const holder = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `
      const { withLock } = await import(${JSON.stringify(lockModule)});
      const { systemClock } = await import(${JSON.stringify(clockModule)});
      const path = ${JSON.stringify(`${ws.statePath}.lock`)};
      await withLock({ path, clock: systemClock, what: "state" }, async () => {
        process.stdout.write("locked\\n");
        await systemClock.sleep(${holdBoundMs});
      });`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    holder.stdout.on("data", (d: Buffer) => (output += d.toString()));
    await until(() => output.includes("locked"), "the holder to take the lock");
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    holder.kill("SIGKILL");
    await exited;
    expect(existsSync(`${ws.statePath}.lock`)).toBe(true);
    // Only the dead-pid rule can let this through: the lock wait (15 s) gives up, E_STATE, long
    // before the lock would be stale by age (30 s).
    const result = await ws.run(["process", "photo.jpg", "--resize", "40x30", "-o", "out/"], { timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
  });

  it("reap during a batch keeps a working backend, and even an aggressive reap fails no request", async () => {
    const ws = await workspaceWithPhoto();
    const dir = join(ws.dir, "batch");
    await mkdir(dir);
    for (let i = 0; i < 60; i++) await writeJpeg(join(dir, `img-${String(i).padStart(2, "0")}.jpg`), 900, 600);
    const up = await ws.run(["up"]);
    expect(up.code, up.stderr).toBe(0);
    const pid = (await ws.state()).backends.default?.pid as number;

    const batch = ws.start(["process", "batch", "--resize", "300x200", "-o", "out/", "--json", "--concurrency", "1"]);
    let stdout = "";
    batch.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    const done = new Promise<number | null>((resolve) => batch.once("close", resolve));
    let finished = false;
    void done.then(() => (finished = true));
    await until(() => stdout.includes('"status":"ok"') || finished, "the batch to process its first image", 30_000);

    // The default idle limit: the backend is in use, nothing is removed, reap stays silent.
    const polite = await ws.run(["reap", "--idle", "5m"]);
    expect(polite).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(isProcessAlive(pid)).toBe(true);

    // An idle limit of zero races every call; calls that lose provision again and retry.
    for (let i = 0; i < 5 && !finished; i++) {
      const reap = await ws.run(["reap", "--idle", "0s"]);
      expect(reap.code, reap.stderr).toBe(0);
    }
    expect(await done).toBe(0);
    const summary = jsonLines(stdout).at(-1)?.summary;
    expect(summary).toMatchObject({ total: 60, ok: 60, failed: 0 });
  }, 120_000);
});
