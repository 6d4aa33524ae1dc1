/** The one bounded wait of the tests: on a fact that another process or a timer brings about. */
import { vi } from "vitest";

/**
 * Resolves once `condition` holds, checking every 20 ms; fails naming `what` after `timeoutMs`.
 * For facts no event announces (another process's death, a count in a backend): wait on the
 * event itself where there is one.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await condition())) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    },
    { timeout: timeoutMs, interval: 20 },
  );
}
