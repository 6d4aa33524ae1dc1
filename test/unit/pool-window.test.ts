/**
 * The pool's per-member window (src/engine/pool-window.ts) against a model of a member: `cpus`
 * requests processed at once, each `serviceMs`, behind a link of `rttMs`. The latency a window
 * of W sees is the round trip plus the service time, plus queueing once W exceeds what the CPUs
 * take while the others are on the wire. The window must settle where the member is kept busy
 * (throughput near cpus / serviceMs) without piling a queue there.
 */
import { describe, expect, it } from "vitest";
import { createWindow } from "../../src/engine/pool-window.js";

/** Steady-state latency of a closed loop of `inFlight` requests on the modelled member. */
function latencyOf(inFlight: number, model: { cpus: number; serviceMs: number; rttMs: number }): number {
  const unloaded = model.rttMs + model.serviceMs;
  // Requests the CPUs can hold while the rest are on the wire: cpus × (1 + rtt / service).
  const covered = model.cpus * (1 + model.rttMs / model.serviceMs);
  if (inFlight <= covered) return unloaded;
  return unloaded + ((inFlight - covered) * model.serviceMs) / model.cpus;
}

/** Runs the window for `rounds` completions against the model; returns its limit at the end. */
function settle(model: { cpus: number; serviceMs: number; rttMs: number }, initial: number, rounds = 500): number {
  const window = createWindow({ initial, max: 64 });
  for (let i = 0; i < rounds; i++) window.sample(latencyOf(window.limit, model), true);
  return window.limit;
}

describe("pool window", () => {
  it("on a member next door (1 ms), stays near 2 × CPUs: more would only queue", () => {
    const limit = settle({ cpus: 2, serviceMs: 40, rttMs: 1 }, 4);
    expect(limit).toBeGreaterThanOrEqual(2);
    expect(limit).toBeLessThanOrEqual(2 * 1.05 + 3 + 1);
  });

  it("on a member 40 ms away with 20 ms images, grows past the fixed 2 × CPUs until the CPUs are kept busy", () => {
    const model = { cpus: 1, serviceMs: 20, rttMs: 40 };
    const limit = settle(model, 2);
    // cpus × (1 + rtt / service) = 3 requests keep one CPU busy; the fixed window of 2 would not.
    expect(limit).toBeGreaterThanOrEqual(3);
    // And it stops before a long queue forms there (at most `shrink` + 1 waiting).
    expect(limit).toBeLessThanOrEqual(3 + 4);
    const throughput = (w: number) => (w / latencyOf(w, model)) * 1000;
    expect(throughput(limit)).toBeGreaterThan(throughput(2) * 1.4);
  });

  it(
    "shrinks when the member's answers slow down (a queue " + "builds there), to a few in flight and never below one",
    () => {
      const window = createWindow({ initial: 16, max: 64 });
      for (let i = 0; i < 10; i++) window.sample(100, true);
      for (let i = 0; i < 200; i++) window.sample(400, true);
      // 4× the fastest answer: at W in flight about 0.75 W wait there; it shrinks until that is 3.
      expect(window.limit).toBe(4);
      expect(createWindow({ initial: 0, max: 64 }).limit).toBe(1);
      expect(createWindow({ initial: 8, max: 0 }).limit).toBe(1);
    },
  );

  it("grows only from full windows: a fast answer to a half-used window says nothing", () => {
    const window = createWindow({ initial: 4, max: 64 });
    for (let i = 0; i < 100; i++) window.sample(50, false);
    expect(window.limit).toBe(4);
    for (let i = 0; i < 100; i++) window.sample(50, true);
    expect(window.limit).toBe(64);
  });

  it("ignores nonsense samples", () => {
    const window = createWindow({ initial: 3, max: 8 });
    window.sample(0, true);
    window.sample(Number.NaN, true);
    window.sample(-5, true);
    expect(window.limit).toBe(3);
  });
});
