/**
 * Probes a fresh container group's imaginary with the key until GET /health answers. Succeeded +
 * Running does not mean the app listens yet, so retry with back-off, IP first (arm-notes.md §6).
 * /health needs the key when imaginary runs with -key (imaginary-api.md §2.1, §3).
 */
import type { Clock } from "../engine/types.js";

export type HealthResult = "healthy" | "unauthorized" | "unreachable";

export interface ProbeOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** Upper bound on attempts (besides the signal). Default 40 (about a minute of back-off). */
  attempts?: number;
  /** Per-attempt bound. Default 5 s. */
  attemptTimeoutMs?: number;
}

/** Resolves "healthy" once `endpoint`/health answers 200 with `apiKey`, "unauthorized" on 401. */
export async function probeHealth(endpoint: string, apiKey: string, options: ProbeOptions): Promise<HealthResult> {
  const attempts = options.attempts ?? 40;
  let delayMs = 100;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    options.signal?.throwIfAborted();
    const bound = AbortSignal.timeout(options.attemptTimeoutMs ?? 5000);
    try {
      const response = await fetch(`${endpoint}/health`, {
        headers: { "API-Key": apiKey },
        signal: options.signal ? AbortSignal.any([options.signal, bound]) : bound,
      });
      await response.body?.cancel();
      if (response.status === 200) return "healthy";
      if (response.status === 401) return "unauthorized";
    } catch (error) {
      options.signal?.throwIfAborted();
      void error; // connection refused / reset / per-attempt timeout: not up yet
    }
    if (attempt < attempts) await options.clock.sleep(delayMs, options.signal);
    delayMs = Math.min(delayMs * 2, 2000);
  }
  return "unreachable";
}

/**
 * True when `endpoint` answers GET /health without any key. imaginary checks the key on every
 * route once `-key` is set (imaginary-api.md §2.1), so a 200 here means the image ignored
 * IMAGINARY_SECRET and would serve anyone who finds its public IP.
 */
export async function servesWithoutKey(endpoint: string, signal?: AbortSignal): Promise<boolean> {
  const bound = AbortSignal.timeout(5000);
  try {
    const response = await fetch(`${endpoint}/health`, { signal: signal ? AbortSignal.any([signal, bound]) : bound });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
