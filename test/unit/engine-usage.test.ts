import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StateStore } from "../../src/engine/types.js";
import { createUsageTracker, type UsageTracker } from "../../src/engine/usage.js";
import { createFileStateStore } from "../../src/state/file.js";
import { manualClock } from "../helpers/manual-clock.js";
import { sampleRecord } from "../helpers/state-contract.js";

const t0 = Date.parse("2026-03-01T10:00:00.000Z");

describe("lastUsed bookkeeping", () => {
  let dir: string;
  let store: StateStore;
  let clock: ReturnType<typeof manualClock>;
  let usage: UsageTracker;
  const lastUsed = async (): Promise<number> => Date.parse((await store.read()).backends.default?.lastUsed ?? "");

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "aciimg-usage-"));
    store = createFileStateStore({ path: join(dir, "state.json") });
    await store.update((state) => {
      state.backends.default = sampleRecord("default", { lastUsed: new Date(t0 - 60_000).toISOString() });
    });
    clock = manualClock(t0);
    usage = createUsageTracker({ store, name: "default", clock, intervalMs: 5_000 });
  });
  afterEach(async () => {
    await usage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes lastUsed when work starts", async () => {
    usage.begin();
    await usage.flush();
    expect(await lastUsed()).toBe(t0);
    usage.end();
  });

  it("refreshes lastUsed at most every interval while a batch works, and at its end", async () => {
    usage.begin();
    await usage.flush();
    // Many calls within the interval: coalesced, no write yet.
    for (let i = 0; i < 10; i++) {
      usage.begin();
      usage.end();
    }
    await clock.advance(2_000);
    expect(await lastUsed()).toBe(t0);
    // The refresh loop writes once the interval has passed, even with no call starting.
    await clock.advance(3_000);
    await usage.flush();
    expect(await lastUsed()).toBe(t0 + 5_000);
    await clock.advance(5_000);
    await usage.flush();
    expect(await lastUsed()).toBe(t0 + 10_000);
    await clock.advance(1_000);
    usage.end();
    await usage.flush();
    expect(await lastUsed()).toBe(t0 + 11_000);
  });

  it("the end of work is written even when it comes right after a write (deferred, not dropped)", async () => {
    usage.begin();
    await usage.flush();
    await clock.advance(1_000);
    usage.end();
    // Within the interval of the last write: deferred to t0 + 5 s, carrying the use at t0 + 1 s.
    expect(await lastUsed()).toBe(t0);
    await clock.advance(4_000);
    await usage.flush();
    expect(await lastUsed()).toBe(t0 + 1_000);
  });

  it("never moves lastUsed backwards and never touches a provisioning claim", async () => {
    await store.update((state) => {
      const record = state.backends.default;
      if (record) record.lastUsed = new Date(t0 + 60_000).toISOString();
      state.backends.other = sampleRecord("other", {
        status: "provisioning",
        lastUsed: new Date(t0 - 1).toISOString(),
      });
    });
    usage.begin();
    usage.end();
    await usage.flush();
    expect(await lastUsed()).toBe(t0 + 60_000);
    const claim = createUsageTracker({ store, name: "other", clock, intervalMs: 5_000 });
    claim.begin();
    claim.end();
    await claim.close();
    expect((await store.read()).backends.other?.lastUsed).toBe(new Date(t0 - 1).toISOString());
  });
});
