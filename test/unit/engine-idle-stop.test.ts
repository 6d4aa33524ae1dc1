/**
 * A backend's own idle stop (engine/idle-stop.ts) on a real state file, time driven by a manual
 * clock: when it removes its record, when it keeps it (its own work, a fresh lastUsed, work that
 * arrives while it takes the lock), and when an unrecorded backend counts as an orphan.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { waitUntilIdle, type BackendWork, type IdleStop, type IdleStopOptions } from "../../src/engine/idle-stop.js";
import type { StateStore } from "../../src/engine/types.js";
import { createFileStateStore } from "../../src/state/file.js";
import { manualClock, type ManualClock } from "../helpers/manual-clock.js";
import { sampleRecord } from "../helpers/state-contract.js";

const t0 = Date.parse("2026-03-01T10:00:00.000Z");
const idleMs = 60_000;
const selfId = "local:4242@abcd";
const at = (ms: number): string => new Date(t0 + ms).toISOString();

/** A wait started by the test: its result so far (undefined while it waits), and its promise. */
interface Wait {
  outcome(): IdleStop | undefined;
  done: Promise<IdleStop>;
}

describe("a backend's idle stop", () => {
  let dir: string;
  let store: StateStore;
  let clock: ManualClock;
  let work: BackendWork;
  let abort: AbortController;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "aciimg-idle-stop-"));
    store = createFileStateStore({ path: join(dir, "state.json") });
    clock = manualClock(t0);
    work = { inFlight: 0, lastEndedAt: undefined };
    abort = new AbortController();
  });
  afterEach(async () => {
    abort.abort();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts the wait; `outcome()` is its result so far (undefined while it waits). */
  function start(overrides: Partial<IdleStopOptions> = {}): Wait {
    let outcome: IdleStop | undefined;
    const done = waitUntilIdle({
      store,
      clock,
      idleMs,
      isSelf: (record) => record.id === selfId,
      work: () => work,
      startedAt: t0,
      orphanAfterMs: 120_000,
      signal: abort.signal,
      ...overrides,
    });
    done.then(
      (value) => (outcome = value),
      () => undefined,
    );
    return { outcome: () => outcome, done };
  }

  /** Moves time on and waits until the wait has finished its turn (asleep again, or done). */
  async function advance(ms: number, wait: Wait): Promise<void> {
    await clock.advance(ms);
    const hasTurned = (): boolean => clock.sleeping() === 1 || wait.outcome() !== undefined;
    await vi.waitFor(() => expect(hasTurned()).toBe(true), { timeout: 5_000 });
  }

  const record = (lastUsedMs: number) => sampleRecord("default", { id: selfId, pid: 4242, lastUsed: at(lastUsedMs) });

  it("removes its own record once it and the record are idle past the limit, and leaves others alone", async () => {
    await store.update((state) => {
      state.backends.default = record(0);
      state.backends.other = sampleRecord("other", { lastUsed: at(-10 * idleMs) });
    });
    const wait = start();
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await advance(idleMs, wait);
    expect(wait.outcome()).toBeUndefined();
    expect(Object.keys((await store.read()).backends)).toEqual(["default", "other"]);
    await advance(2, wait);
    expect(await wait.done).toBe("idle");
    expect(Object.keys((await store.read()).backends)).toEqual(["other"]);
  });

  it("keeps running while a request is in flight, and for the limit after it ended", async () => {
    await store.update((state) => void (state.backends.default = record(0)));
    work.inFlight = 1;
    const wait = start();
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await advance(3 * idleMs, wait);
    expect(wait.outcome()).toBeUndefined();
    work.inFlight = 0;
    work.lastEndedAt = clock.now();
    await advance(idleMs, wait);
    expect(wait.outcome()).toBeUndefined();
    expect((await store.read()).backends.default).toBeDefined();
    await advance(2, wait);
    expect(await wait.done).toBe("idle");
  });

  it("keeps its record while lastUsed is fresh (another process's batch starting), then stops after", async () => {
    await store.update((state) => void (state.backends.default = record(0)));
    const wait = start();
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    // Touched by a client (engine usage.ts) just before the backend's own limit ran out.
    await store.update((state) => void (state.backends.default = record(idleMs - 1_000)));
    await advance(idleMs + 1, wait);
    expect(wait.outcome()).toBeUndefined();
    expect((await store.read()).backends.default?.lastUsed).toBe(at(idleMs - 1_000));
    await advance(idleMs - 1_000, wait);
    expect(await wait.done).toBe("idle");
    expect((await store.read()).backends).toEqual({});
  });

  it("a request that arrives while it takes the lock keeps the record: checked again under the lock", async () => {
    await store.update((state) => void (state.backends.default = record(0)));
    // The request arrives between the first look (idle) and the lock: inside the update, before its function runs.
    let arrivals = 1;
    const racing: StateStore = {
      location: store.location,
      read: () => store.read(),
      update: (fn) => {
        if (arrivals-- > 0) work.inFlight = 1;
        return store.update(fn);
      },
    };
    const wait = start({ store: racing });
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await advance(idleMs + 1, wait);
    expect(wait.outcome()).toBeUndefined();
    expect((await store.read()).backends.default).toBeDefined();
    work.inFlight = 0;
    work.lastEndedAt = clock.now();
    for (let i = 0; i < 4 && wait.outcome() === undefined; i++) await advance(idleMs / 2, wait);
    expect(await wait.done).toBe("idle");
    expect((await store.read()).backends).toEqual({});
  });

  it("unrecorded, it waits out a create in progress; a record that appears is then stopped as usual", async () => {
    const wait = start();
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    await advance(idleMs + 1, wait);
    expect(wait.outcome()).toBeUndefined();
    // Recorded by its creator now, a limit after it started listening (a slow health wait).
    await store.update((state) => void (state.backends.default = record(idleMs + 1)));
    await advance(idleMs, wait);
    expect(wait.outcome()).toBeUndefined();
    await advance(idleMs, wait);
    expect(await wait.done).toBe("idle");
  });

  it("still unrecorded past the orphan bound, it stops as an orphan and writes nothing", async () => {
    await store.update((state) => void (state.backends.other = sampleRecord("other")));
    const wait = start();
    await vi.waitFor(() => expect(clock.sleeping()).toBe(1));
    for (let i = 0; i < 4 && wait.outcome() === undefined; i++) await advance(idleMs, wait);
    expect(await wait.done).toBe("orphan");
    expect(Object.keys((await store.read()).backends)).toEqual(["other"]);
  });
});
