/**
 * The one bounded wait for a new backend's GET /health, through the imaginary client: probe, and
 * after each probe that is not healthy pause with doubling back-off. Each caller keeps its own
 * bounds and its own verdicts (`onAttempt`, `onError`): the aci provider gives up at once on an
 * untrusted peer and returns on a refused key; the local provider watches its start timeout and
 * its child process.
 */
import type { HealthProbe, ImaginaryClient } from "./client.js";

/** A probe that did not find the backend healthy. */
export type UnhealthyProbe = Exclude<HealthProbe, { state: "healthy" }>;

export interface HealthWaitOptions {
  /** Pauses between probes (a `Clock`), so tests can steer time. */
  clock: { sleep(ms: number, signal?: AbortSignal): Promise<void> };
  /** Cancels the wait: checked before and after each probe, passed to each probe and pause. */
  signal?: AbortSignal | undefined;
  /**
   * Most probes; when they run out the last one is the outcome.
   * Default: no bound (`onAttempt` or `onError` ends the wait).
   */
  attempts?: number;
  /** Bound on one probe, besides the client's own timeouts. Default: only the client's. */
  attemptTimeoutMs?: number;
  /** The pause after the first probe that is not healthy; doubled after each, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Told each probe that is not healthy; true ends the wait with it, throwing ends it with the error. */
  onAttempt?: (probe: UnhealthyProbe, attempt: number) => boolean;
  /**
   * Told an error a probe threw (cancellation included); true keeps waiting
   * as after an unreachable probe. Default: the error ends the wait.
   */
  onError?: (error: unknown) => boolean;
}

/**
 * Probes until the backend is healthy, `onAttempt` stops, or the attempts run out; resolves with
 * the last probe. Fails when the signal fires, or with what a probe or `onAttempt` threw.
 */
export async function waitForHealth(
  client: Pick<ImaginaryClient, "probe">,
  options: HealthWaitOptions,
): Promise<HealthProbe> {
  const { clock, signal, attemptTimeoutMs } = options;
  const attempts = options.attempts ?? Number.POSITIVE_INFINITY;
  let delayMs = options.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const bound = attemptTimeoutMs === undefined ? undefined : AbortSignal.timeout(attemptTimeoutMs);
    let probe: HealthProbe | undefined;
    try {
      probe = await client.probe(signal && bound ? AbortSignal.any([signal, bound]) : (bound ?? signal));
    } catch (error) {
      if (!(options.onError?.(error) ?? false) || attempt >= attempts) throw error;
    }
    signal?.throwIfAborted();
    if (probe?.state === "healthy") return probe;
    if (probe && options.onAttempt?.(probe, attempt)) return probe;
    if (attempt >= attempts && probe) return probe;
    await clock.sleep(delayMs, signal);
    delayMs = Math.min(delayMs * 2, options.maxDelayMs);
  }
}
