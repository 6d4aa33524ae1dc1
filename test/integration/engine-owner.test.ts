/**
 * Owner-scoped lifecycle on the local provider (issue 11): two state files in one directory share
 * the local backend registry, as two states share an ACI resource group. Real backend processes,
 * real file stores; idle time is steered by an offset clock.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { createEngine } from "../../src/engine/engine.js";
import { isProcessAlive } from "../../src/host-process.js";
import type { BackendSpec, Clock, Engine, Provider, StateStore } from "../../src/engine/types.js";
import { createLocalProvider } from "../../src/providers/local/local.js";
import { createFileStateStore } from "../../src/state/file.js";

const spec: BackendSpec = {
  name: "default",
  image: "unused",
  cpu: 1,
  memoryInGB: 1,
  maxUploadBytes: 20_000_000,
  maxResolutionMP: 18,
};
const minutes = (n: number): number => n * 60_000;

function offsetClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    advance: (ms) => void (offset += ms),
  };
}

describe("owner ids on the local provider", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** One directory, one registry, and a state file per `stateName`. */
  async function rig() {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-owner-"));
    const clock = offsetClock();
    const provider: Provider = createLocalProvider({ env: {}, logDir: join(dir, "local"), clock });
    const engines: Engine[] = [];
    cleanups.push(async () => {
      for (const engine of engines) await engine.close();
      for (const ref of await provider.list()) await provider.delete(ref);
      await rm(dir, { recursive: true, force: true });
    });
    const stores = new Map<string, StateStore>();
    const storeOf = (stateName: string): StateStore => {
      let store = stores.get(stateName);
      if (!store) {
        store = createFileStateStore({ path: join(dir, `${stateName}.json`) });
        stores.set(stateName, store);
      }
      return store;
    };
    return {
      dir,
      clock,
      provider,
      storeOf,
      engine(stateName: string): Engine {
        const engine = createEngine({ provider, store: storeOf(stateName), spec, clock, createTimeoutMs: 30_000 });
        engines.push(engine);
        return engine;
      },
    };
  }

  it("a state gets its owner id on the first create and keeps it; its backend carries it", async () => {
    const r = await rig();
    const engine = r.engine("a");
    expect((await r.storeOf("a").read()).owner).toBeUndefined();
    const { record } = await engine.ensure();
    const owner = (await r.storeOf("a").read()).owner;
    expect(owner).toMatch(/^[0-9a-f]{32}$/);
    expect(await r.provider.list()).toEqual([expect.objectContaining({ id: record.id, owner })]);
    // Replaced after down: same owner, never a new one.
    await engine.down();
    await engine.ensure();
    expect((await r.storeOf("a").read()).owner).toBe(owner);
    expect(JSON.parse(await readFile(join(r.dir, "a.json"), "utf8"))).toMatchObject({ version: 1, owner });
  });

  it(
    "another state's reap --idle 0, " +
      "down and status leave the first state's running backend alone and list it as not ours",
    async () => {
      const r = await rig();
      const { record: first } = await r.engine("a").ensure();
      const ownerA = (await r.storeOf("a").read()).owner;
      r.clock.advance(minutes(60));

      const b = r.engine("b");
      const report = await b.reap({ idleMs: 0 });
      expect(report.removed).toEqual([]);
      expect(report.foreign).toEqual([
        expect.objectContaining({ id: first.id, name: "default", owner: ownerA, reason: "not-ours" }),
      ]);
      expect(await b.down()).toEqual({
        removed: [],
        others: [expect.objectContaining({ id: first.id, reason: "not-ours" })],
      });
      expect((await b.status()).others).toEqual([expect.objectContaining({ id: first.id, reason: "not-ours" })]);
      expect(isProcessAlive(first.pid as number)).toBe(true);

      // b's own backend of the same name is its own: both run side by side (local ids never collide).
      const { record: second } = await b.ensure();
      expect(second.id).not.toBe(first.id);
      expect((await r.engine("a").status()).others).toEqual([
        expect.objectContaining({ id: second.id, reason: "not-ours" }),
      ]);
      expect(await r.provider.inspect(first)).toEqual({ state: "running", endpoint: first.endpoint });
    },
  );

  it("a lost state file: its backend is no longer ours, reap leaves it, down --force deletes it", async () => {
    const r = await rig();
    const { record } = await r.engine("a").ensure();
    await rm(join(r.dir, "a.json"));
    r.clock.advance(minutes(60));
    const engine = r.engine("a");
    const report = await engine.reap({ idleMs: 0 });
    expect(report.removed).toEqual([]);
    expect(report.foreign).toEqual([expect.objectContaining({ id: record.id, reason: "not-ours" })]);
    expect(isProcessAlive(record.pid as number)).toBe(true);
    const forced = await engine.down({ force: true });
    expect(forced.removed.map((ref) => ref.id)).toEqual([record.id]);
    expect(isProcessAlive(record.pid as number)).toBe(false);
  });
});
