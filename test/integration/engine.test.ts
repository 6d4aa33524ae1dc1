/**
 * The engine on real parts: the local provider running `aciimg backend` processes, the JSON file
 * state, real sharp-made images. Time for idle decisions is steered by an offset clock.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { createEngine } from "../../src/engine/engine.js";
import { isProcessAlive } from "../../src/host-process.js";
import type { BackendSpec, Clock, Engine, ImageRequest, Provider, StateStore } from "../../src/engine/types.js";
import { createLocalProvider } from "../../src/providers/local/local.js";
import { createFileStateStore } from "../../src/state/file.js";
import { makeJpeg, resizeRequest } from "../helpers/images.js";
import { until } from "../helpers/wait.js";

const spec: BackendSpec = {
  name: "default",
  image: "unused",
  cpu: 1,
  memoryInGB: 1,
  maxUploadBytes: 20_000_000,
  maxResolutionMP: 18,
};
const minutes = (n: number): number => n * 60_000;

/** Real time plus an offset the test moves forward. */
function offsetClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    advance: (ms) => void (offset += ms),
  };
}

interface Rig {
  dir: string;
  clock: ReturnType<typeof offsetClock>;
  provider: Provider;
  store: StateStore;
  engine(options?: { cliPath?: string }): Engine;
}

let jpeg: Buffer;
beforeAll(async () => {
  jpeg = await makeJpeg(320, 240);
});

const resize = (): ImageRequest => resizeRequest(jpeg);

async function expectResized(engine: Engine): Promise<void> {
  const response = await engine.call(resize());
  expect(response.status).toBe(200);
  const meta = await sharp(await buffer(response.body)).metadata();
  expect([meta.width, meta.height]).toEqual([64, 48]);
}

describe("engine on the local provider", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function rig(): Promise<Rig> {
    const dir = await mkdtemp(join(tmpdir(), "aciimg-engine-"));
    const clock = offsetClock();
    const logDir = join(dir, "local");
    const provider = createLocalProvider({ env: {}, logDir, clock });
    const store = createFileStateStore({ path: join(dir, "state.json") });
    const engines: Engine[] = [];
    cleanups.push(async () => {
      for (const engine of engines) await engine.close();
      // Whatever a test left running is stopped, recorded or not.
      for (const ref of await provider.list()) await provider.delete(ref);
      await rm(dir, { recursive: true, force: true });
    });
    return {
      dir,
      clock,
      provider,
      store,
      engine(options = {}) {
        const p = options.cliPath
          ? createLocalProvider({ env: {}, logDir, clock, cliPath: options.cliPath })
          : provider;
        const engine = createEngine({ provider: p, store, spec, clock, touchIntervalMs: 200, createTimeoutMs: 30_000 });
        engines.push(engine);
        return engine;
      },
    };
  }

  it("ensure provisions once, then reuses the recorded backend (also from another engine)", async () => {
    const r = await rig();
    const first = await r.engine().ensure();
    expect(first.created).toBe(true);
    expect(first.record.status).toBe("running");
    const again = await r.engine().ensure();
    expect(again.created).toBe(false);
    expect(again.record.id).toBe(first.record.id);
    expect((await r.store.read()).backends.default?.id).toBe(first.record.id);
    expect(await r.provider.list()).toHaveLength(1);
  });

  it("concurrent ensures in one process share one provisioning", async () => {
    const r = await rig();
    const engineA = r.engine();
    const engineB = r.engine();
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => engineA.ensure()),
      ...Array.from({ length: 5 }, () => engineB.ensure()),
    ]);
    expect(new Set(results.map((result) => result.record.id)).size).toBe(1);
    expect(results.filter((result) => result.created).length).toBeGreaterThanOrEqual(1);
    expect(await r.provider.list()).toHaveLength(1);
  });

  it("call processes an image and records lastUsed", async () => {
    const r = await rig();
    const engine = r.engine();
    const before = r.clock.now();
    await expectResized(engine);
    await engine.close();
    expect(Date.parse((await r.store.read()).backends.default?.lastUsed ?? "")).toBeGreaterThanOrEqual(before);
  });

  it("a backend killed between two calls is provisioned again and the next call succeeds", async () => {
    const r = await rig();
    const engine = r.engine();
    await expectResized(engine);
    const killed = (await r.store.read()).backends.default;
    process.kill(killed?.pid as number, "SIGKILL");
    await until(() => !isProcessAlive(killed?.pid as number), `backend ${killed?.pid} to die`);
    await expectResized(engine);
    const replaced = (await r.store.read()).backends.default;
    expect(replaced?.id).not.toBe(killed?.id);
    expect((await r.provider.list()).map((ref) => ref.id)).toEqual([replaced?.id]);
  });

  it("reap keeps a backend used 4 minutes ago and removes one idle 6 minutes", async () => {
    const r = await rig();
    const engine = r.engine();
    await expectResized(engine);
    await engine.close();
    const record = (await r.store.read()).backends.default;
    r.clock.advance(minutes(4));
    const early = await r.engine().reap({ idleMs: minutes(5) });
    expect(early.removed).toEqual([]);
    expect(early.kept).toEqual([expect.objectContaining({ id: record?.id, reason: "in-use" })]);
    expect(isProcessAlive(record?.pid as number)).toBe(true);
    r.clock.advance(minutes(2));
    const dry = await r.engine().reap({ idleMs: minutes(5), dryRun: true });
    expect(dry.removed).toEqual([expect.objectContaining({ id: record?.id, reason: "idle" })]);
    expect(isProcessAlive(record?.pid as number)).toBe(true);
    const late = await r.engine().reap({ idleMs: minutes(5) });
    expect(late.removed).toEqual([expect.objectContaining({ id: record?.id, reason: "idle" })]);
    expect(late.removed[0]?.idleMs).toBeGreaterThan(minutes(6) - 1_000);
    expect((await r.store.read()).backends).toEqual({});
    expect(isProcessAlive(record?.pid as number)).toBe(false);
  });

  it("reap never removes a backend while it is being provisioned", async () => {
    const r = await rig();
    const provisioner = r.engine();
    const reaper = r.engine();
    let reaping: Promise<Awaited<ReturnType<Engine["reap"]>>> | undefined;
    const ensured = await provisioner.ensure({
      onPhase: (phase) => {
        // The claim is in the state and the process is starting: reap with no idle allowance at all.
        if (phase === "waiting for /health") reaping ??= reaper.reap({ idleMs: 0 });
      },
    });
    const report = await reaping;
    expect(report?.removed).toEqual([]);
    expect(report?.kept.some((ref) => ref.reason === "provisioning")).toBe(true);
    expect(await r.provider.inspect(ensured.record)).toEqual({ state: "running", endpoint: ensured.record.endpoint });
    expect((await r.store.read()).backends.default?.status).toBe("running");
  });

  it("reap keeps a provisioning claim with a live provisioner even when it is hours old", async () => {
    const r = await rig();
    const longAgo = new Date(r.clock.now() - minutes(180)).toISOString();
    await r.store.update((state) => {
      state.backends.default = {
        provider: "local",
        id: "provisioning:test",
        name: "default",
        endpoint: "",
        apiKey: "k",
        createdAt: longAgo,
        lastUsed: longAgo,
        status: "provisioning",
        spec,
        provisioner: { pid: process.pid, host: hostname(), heartbeat: new Date(r.clock.now()).toISOString() },
      };
    });
    const report = await r.engine().reap({ idleMs: minutes(5) });
    expect(report.removed).toEqual([]);
    expect(report.kept).toEqual([expect.objectContaining({ id: "provisioning:test", reason: "provisioning" })]);
    expect((await r.store.read()).backends.default?.status).toBe("provisioning");
  });

  it("a claim left by a dead provisioner is taken over", async () => {
    const r = await rig();
    const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => dead.once("exit", resolve));
    const now = new Date(r.clock.now()).toISOString();
    await r.store.update((state) => {
      state.backends.default = {
        provider: "local",
        id: "provisioning:dead",
        name: "default",
        endpoint: "",
        apiKey: "k",
        createdAt: now,
        lastUsed: now,
        status: "provisioning",
        spec,
        provisioner: { pid: dead.pid as number, host: hostname(), heartbeat: now },
      };
    });
    const result = await r.engine().ensure();
    expect(result.created).toBe(true);
    expect((await r.store.read()).backends.default?.id).toBe(result.record.id);
  });

  it("a failed provisioning clears its claim, so the state never names a backend that does not exist", async () => {
    const r = await rig();
    const script = join(r.dir, "broken-aciimg.js");
    await writeFile(script, "process.exit(7);\n");
    const error = await r
      .engine({ cliPath: script })
      .ensure()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: "E_PROVISION" });
    expect((await r.store.read()).backends).toEqual({});
  });

  it("reap racing a working batch: no request fails", async () => {
    const r = await rig();
    const worker = r.engine();
    const reaper = r.engine();
    const total = 40;
    let done = 0;
    const reaps: Array<Promise<Awaited<ReturnType<Engine["reap"]>>>> = [];
    const inFlight = { count: 0 };
    const work = worker.beginWork();
    const next = async (): Promise<void> => {
      while (done + inFlight.count < total) {
        inFlight.count += 1;
        await expectResized(worker);
        inFlight.count -= 1;
        done += 1;
        // Reap with no idle allowance twice mid-batch: the backend is deleted under running calls.
        if (done === 8 || done === 24) reaps.push(reaper.reap({ idleMs: 0 }));
      }
    };
    await Promise.all(Array.from({ length: 4 }, next));
    await work.end();
    const reports = await Promise.all(reaps);
    expect(done).toBe(total);
    expect(reports.flatMap((report) => report.removed).length).toBeGreaterThanOrEqual(1);
    expect(await r.provider.list()).toHaveLength((await r.store.read()).backends.default ? 1 : 0);
  });

  it("status reports the live state, idle time and time to reap, and the key only when asked", async () => {
    const r = await rig();
    const engine = r.engine();
    expect(await engine.status()).toEqual({
      provider: "local",
      name: "default",
      state: "none",
      members: [],
      others: [],
    });
    const { record } = await engine.ensure();
    r.clock.advance(minutes(2));
    const status = await engine.status();
    expect(status).toMatchObject({ provider: "local", name: "default", state: "running", endpoint: record.endpoint });
    // One backend is a pool of one: its only member is the backend itself.
    expect(status.members.map((m) => [m.backend, m.name, m.state, m.endpoint])).toEqual([
      ["local-1", "default", "running", record.endpoint],
    ]);
    expect(status.idleMs).toBeGreaterThanOrEqual(minutes(2));
    expect(status.reapInMs).toBeLessThanOrEqual(minutes(3));
    expect(status.reapInMs).toBeGreaterThan(minutes(2));
    expect(status).not.toHaveProperty("apiKey");
    expect((await engine.status({ showKey: true })).apiKey).toBe(record.apiKey);
  });

  it("down deletes the backend now and clears the state; a second down has nothing to do", async () => {
    const r = await rig();
    const engine = r.engine();
    const { record } = await engine.ensure();
    expect((await engine.down()).removed.map((ref) => ref.id)).toEqual([record.id]);
    expect(isProcessAlive(record.pid as number)).toBe(false);
    expect((await r.store.read()).backends).toEqual({});
    expect(await engine.down()).toEqual({ removed: [], others: [] });
    // And the engine provisions again on the next call.
    await expectResized(engine);
  });

  it("refuses to replace a backend of another provider recorded under the same name", async () => {
    const r = await rig();
    const now = new Date(r.clock.now()).toISOString();
    const aci = {
      provider: "aci" as const,
      id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerInstance/containerGroups/aciimg-default",
      name: "default",
      endpoint: "http://192.0.2.1:9000",
      apiKey: "k",
      createdAt: now,
      lastUsed: now,
      status: "running" as const,
      spec,
    };
    await r.store.update((state) => {
      state.backends.default = aci;
    });
    const error = await r
      .engine()
      .ensure()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: "E_STATE" });
    expect((error as Error).message).toContain("aciimg down --provider aci");
    expect((await r.store.read()).backends.default).toEqual(aci);
    expect(await r.provider.list()).toEqual([]);
  });

  it("reap removes an orphan (a backend of ours the state lost) once it is older than the create timeout", async () => {
    const r = await rig();
    const { record } = await r.engine().ensure();
    // The record goes, the state's owner id stays: the backend is still ours, now unnamed.
    await r.store.update((state) => {
      delete state.backends.default;
    });
    const young = await r.engine().reap({ idleMs: minutes(5) });
    expect(young.removed).toEqual([]);
    expect(young.kept).toEqual([expect.objectContaining({ id: record.id, reason: "provisioning" })]);
    r.clock.advance(minutes(1));
    const old = await r.engine().reap({ idleMs: minutes(5) });
    expect(old.removed).toEqual([expect.objectContaining({ id: record.id, reason: "orphan" })]);
    expect(isProcessAlive(record.pid as number)).toBe(false);
  });
});
