/** The real clock. Tests pass their own `Clock` to steer time instead of patching globals (STYLE.md). */
import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "./engine/types.js";

/** Wall-clock time; `sleep` rejects with an AbortError when the signal fires. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  },
};
