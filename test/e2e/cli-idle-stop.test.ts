/**
 * The quick start leaves nothing running: the local backend `process` started stops itself once
 * idle for the idle limit (here ACIIMG_IDLE=1s), and `status` then says there is none and what to
 * do next. `reap` still stops one at once. The spawned CLI on a cold state; every wait is on the
 * event (the backend's process exits), bounded.
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { isProcessAlive } from "../../src/host-process.js";
import { until, workspacesFor, writeJpeg, type Workspace } from "./cli-harness.js";

const workspace = workspacesFor("aciimg-e2e-idle-stop-");
const nextStep = "no backend running; aciimg up starts one, aciimg process starts one on demand";

async function startedBackend(ws: Workspace, env: Record<string, string>): Promise<number> {
  await writeJpeg(join(ws.dir, "photo.jpg"), 160, 120);
  const run = await ws.run(["process", "photo.jpg", "--resize", "80x60", "-o", "out/"], { env });
  expect(run.code, run.stderr).toBe(0);
  const pid = (await ws.state()).backends.default?.pid;
  expect(pid).toBeGreaterThan(0);
  return pid as number;
}

describe("status with no backend", () => {
  it("says so and what starts one, also in --json (next)", async () => {
    const ws = await workspace();
    const human = await ws.run(["status"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^state: +none\nnext: +${nextStep}$`, "m"));
    const json = await ws.run(["status", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      provider: "local",
      name: "default",
      state: "none",
      members: [],
      others: [],
      next: nextStep,
    });
  });
});

describe("the local backend after the idle limit", () => {
  it("stops by itself: its record and files are gone, and status says none and what starts one", async () => {
    const ws = await workspace();
    const pid = await startedBackend(ws, { ACIIMG_IDLE: "1s" });
    await until(() => !isProcessAlive(pid), "the idle backend to exit", 30_000);
    expect((await ws.state()).backends).toEqual({});
    expect(await readdir(join(dirname(ws.statePath), "local"))).toEqual([]);

    const human = await ws.run(["status"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^state: +none$/m);
    expect(human.stdout).toMatch(new RegExp(`^next: +${nextStep}$`, "m"));
    const json = await ws.run(["status", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: "none", next: nextStep });

    // The next run starts a new one.
    const again = await ws.run(["process", "photo.jpg", "--resize", "80x60", "-o", "out2/"]);
    expect(again.code, again.stderr).toBe(0);
    expect((await ws.state()).backends.default?.pid).not.toBe(pid);
  });

  it("while it runs, status counts down to its own stop, not to a reap", async () => {
    const ws = await workspace();
    await startedBackend(ws, {});
    const human = await ws.run(["status"]);
    expect(human.stdout).toMatch(/^stops in: +\S.* \(idle limit 5m; the backend stops itself\)$/m);
    expect(human.stdout).not.toContain("reaped in");
  });

  it("reap --idle 0s still stops it at once", async () => {
    const ws = await workspace();
    const pid = await startedBackend(ws, {});
    const reap = await ws.run(["reap", "--idle", "0s", "--json"]);
    expect(reap.code, reap.stderr).toBe(0);
    expect(JSON.parse(reap.stdout)).toMatchObject({ removed: [{ name: "default", reason: "idle" }] });
    expect(isProcessAlive(pid)).toBe(false);
    expect((await ws.state()).backends).toEqual({});
  });
});
