import { describe, expect, it } from "vitest";
import { createFlight } from "../../src/engine/shared-flight.js";

/** A run of work the test settles by hand, recording the signal it was given. */
function controllableWork() {
  const runs: Array<{
    signal: AbortSignal;
    phase: (p: string) => void;
    resolve: (v: string) => void;
    reject: (e: unknown) => void;
  }> = [];
  const work = (signal: AbortSignal, phase: (p: string) => void) =>
    new Promise<string>((resolve, reject) => {
      runs.push({ signal, phase, resolve, reject });
    });
  return { runs, work };
}

describe("shared single-flight", () => {
  it("concurrent callers share one run", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    const a = flight.join();
    const b = flight.join();
    expect(runs).toHaveLength(1);
    runs[0]!.resolve("backend-1");
    await expect(Promise.all([a, b])).resolves.toEqual(["backend-1", "backend-1"]);
  });

  it("one caller giving up does not cancel the run the others wait for", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    const first = new AbortController();
    const a = flight.join(first.signal);
    const b = flight.join();
    first.abort();
    await expect(a).rejects.toMatchObject({ code: "E_ABORTED" });
    expect(runs[0]!.signal.aborted).toBe(false);
    runs[0]!.resolve("backend-1");
    await expect(b).resolves.toBe("backend-1");
  });

  it("the run is cancelled when the last waiter leaves", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    const first = new AbortController();
    const second = new AbortController();
    const a = flight.join(first.signal);
    const b = flight.join(second.signal);
    first.abort();
    expect(runs[0]!.signal.aborted).toBe(false);
    second.abort();
    expect(runs[0]!.signal.aborted).toBe(true);
    await expect(a).rejects.toMatchObject({ code: "E_ABORTED" });
    await expect(b).rejects.toMatchObject({ code: "E_ABORTED" });
  });

  it("a settled run frees the slot: the next caller starts a new one", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    const a = flight.join();
    runs[0]!.reject(new Error("create failed"));
    await expect(a).rejects.toThrow("create failed");
    const b = flight.join();
    expect(runs).toHaveLength(2);
    runs[1]!.resolve("backend-2");
    await expect(b).resolves.toBe("backend-2");
  });

  it("phases reach every caller still waiting, not those who left", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    const seenA: string[] = [];
    const seenB: string[] = [];
    const leaver = new AbortController();
    const a = flight.join(leaver.signal, (p) => seenA.push(p));
    const b = flight.join(undefined, (p) => seenB.push(p));
    runs[0]!.phase("Pulling");
    leaver.abort();
    await expect(a).rejects.toMatchObject({ code: "E_ABORTED" });
    runs[0]!.phase("healthy");
    runs[0]!.resolve("backend-1");
    await b;
    expect(seenA).toEqual(["Pulling"]);
    expect(seenB).toEqual(["Pulling", "healthy"]);
  });

  it("an already-aborted signal is refused without starting work", async () => {
    const { runs, work } = controllableWork();
    const flight = createFlight(work);
    await expect(flight.join(AbortSignal.abort())).rejects.toMatchObject({ code: "E_ABORTED" });
    expect(runs).toHaveLength(0);
  });
});
