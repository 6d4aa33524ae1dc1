/**
 * Probes a fresh container group's imaginary with the key until GET /health answers. Succeeded +
 * Running does not mean the app listens yet, so retry with back-off, IP first (arm-notes.md §6).
 * /health needs the key when imaginary runs with -key (imaginary-api.md §2.1, §3). Every probe
 * goes through the imaginary client over HTTPS pinned to the group's certificate: nothing, not
 * even the key, is sent to an address that does not prove it holds that certificate.
 */
import { AciimgError } from "../errors.js";
import type { Clock } from "../engine/types.js";
import { createImaginaryClient, type ImaginaryClient } from "../imaginary/client.js";

export type HealthResult = "healthy" | "unauthorized" | "unreachable";

/** Where a group's imaginary answers and how it is trusted. */
export interface GroupBackend {
  endpoint: string;
  apiKey: string;
  tlsFingerprint: string;
}

export interface ProbeOptions {
  clock: Clock;
  signal?: AbortSignal;
  /** Upper bound on attempts (besides the signal). Default 40 (about a minute of back-off). */
  attempts?: number;
  /** Per-attempt bound. Default 5 s. */
  attemptTimeoutMs?: number;
}

function clientOf(backend: GroupBackend, timeoutMs: number): ImaginaryClient {
  return createImaginaryClient({ ...backend, connections: 1, connectTimeoutMs: timeoutMs, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs });
}

/**
 * Resolves "healthy" once /health answers 200 with the key, "unauthorized" on 401, "unreachable"
 * when the attempts run out. A backend that presents another certificate (E_BACKEND_UNTRUSTED) or
 * answers in plain HTTP (E_PROVISION) fails at once: waiting would not change either.
 */
export async function probeHealth(backend: GroupBackend, options: ProbeOptions): Promise<HealthResult> {
  const attempts = options.attempts ?? 40;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;
  const client = clientOf(backend, attemptTimeoutMs);
  let delayMs = 100;
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      options.signal?.throwIfAborted();
      const bound = AbortSignal.timeout(attemptTimeoutMs);
      const probe = await client.probe(options.signal ? AbortSignal.any([options.signal, bound]) : bound);
      options.signal?.throwIfAborted();
      if (probe.state === "healthy") return "healthy";
      if (probe.state === "unauthorized") return "unauthorized";
      if (probe.state === "untrusted") {
        if (probe.error.detail?.plainText !== true) throw probe.error;
        throw new AciimgError("E_PROVISION", `${backend.endpoint} answers in plain HTTP, not TLS: the image ignored -certfile/-keyfile`, { cause: probe.error });
      }
      // unreachable (refused, reset, per-attempt timeout): not up yet
      if (attempt < attempts) await options.clock.sleep(delayMs, options.signal);
      delayMs = Math.min(delayMs * 2, 2000);
    }
    return "unreachable";
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * True when the backend answers GET /health without any key. imaginary checks the key on every
 * route once `-key` is set (imaginary-api.md §2.1), so a 200 here means the image ignored
 * IMAGINARY_SECRET and would serve anyone who reaches its public IP.
 */
export async function servesWithoutKey(backend: GroupBackend, signal?: AbortSignal): Promise<boolean> {
  const client = clientOf({ ...backend, apiKey: "" }, 5000);
  try {
    const probe = await client.probe(signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000));
    return probe.state === "healthy";
  } finally {
    await client.close().catch(() => undefined);
  }
}
