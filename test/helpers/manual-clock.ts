/** A Clock for tests that moves only when told (STYLE.md: time is injected, never patched). */
import type { Clock } from "../../src/engine/types.js";

export interface ManualClock extends Clock {
  /** Moves time on and wakes the sleepers whose deadline has passed. */
  advance(ms: number): Promise<void>;
  /** How many are asleep now: a loop that went back to sleep has finished its turn. */
  sleeping(): number;
}

/** A clock at `start` (epoch ms); sleepers wake when time passes their deadline, or reject on abort. */
export function manualClock(start: number): ManualClock {
  let now = start;
  const sleepers: Array<{ until: number; wake: () => void }> = [];
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        const sleeper = { until: now + ms, wake: resolve };
        sleepers.push(sleeper);
        signal?.addEventListener(
          "abort",
          () => {
            sleepers.splice(sleepers.indexOf(sleeper), 1);
            reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
          },
          { once: true },
        );
      });
    },
    async advance(ms) {
      now += ms;
      for (const sleeper of sleepers.filter((s) => s.until <= now)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.wake();
      }
      // Let woken writers reach the store.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    },
    sleeping: () => sleepers.length,
  };
}
