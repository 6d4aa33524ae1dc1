import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { withLock } from "../../src/state/lock.js";

describe("state lock file", () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "aciimg-lock-"));
    path = join(dir, "state.json.lock");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const holder = (fields: Record<string, unknown>): string =>
    JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), token: "t", ...fields });

  it("runs the function holding the lock and removes the lock afterwards, also when it throws", async () => {
    const seen = await withLock({ path, clock: systemClock, what: "test" }, async () => readdir(dir));
    expect(seen).toEqual(["state.json.lock"]);
    expect(await readdir(dir)).toEqual([]);
    await expect(
      withLock({ path, clock: systemClock, what: "test" }, async () => Promise.reject(new Error("inside"))),
    ).rejects.toThrow("inside");
    expect(await readdir(dir)).toEqual([]);
  });

  it("excludes concurrent holders", async () => {
    let inside = 0;
    let overlap = false;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock({ path, clock: systemClock, what: "test" }, async () => {
          inside += 1;
          if (inside > 1) overlap = true;
          await new Promise((resolve) => setImmediate(resolve));
          inside -= 1;
        }),
      ),
    );
    expect(overlap).toBe(false);
  });

  it("breaks a lock of a dead pid on this host at once", async () => {
    await writeFile(path, holder({ pid: 2 ** 22 + 12345 }));
    // A 2 s wait, far below the 30 s stale bound: only the dead-pid rule lets this through; else
    // withLock rejects when the wait runs out.
    await withLock({ path, clock: systemClock, what: "test", timeoutMs: 2_000 }, async () => undefined);
  });

  it("respects a fresh lock of another host, and breaks it once older than the stale bound", async () => {
    await writeFile(path, holder({ host: "some-other-host", pid: 1 }));
    await expect(
      withLock({ path, clock: systemClock, what: "test", timeoutMs: 200 }, async () => undefined),
    ).rejects.toMatchObject({ code: "E_STATE" });
    await writeFile(path, holder({ host: "some-other-host", pid: 1, time: Date.now() - 60_000 }));
    await expect(
      withLock({ path, clock: systemClock, what: "test", timeoutMs: 2_000, staleMs: 30_000 }, async () => "got it"),
    ).resolves.toBe("got it");
  });

  it("breaks an unreadable lock (its writer died between create and write) after a short grace", async () => {
    await writeFile(path, "");
    await expect(
      withLock({ path, clock: systemClock, what: "test", timeoutMs: 150 }, async () => undefined),
    ).rejects.toMatchObject({ code: "E_STATE" });
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    await expect(
      withLock({ path, clock: systemClock, what: "test", timeoutMs: 2_000 }, async () => "ok"),
    ).resolves.toBe("ok");
  });
});
