/**
 * Probes a fresh container group's imaginary with the key until GET /health answers. Succeeded +
 * Running does not mean the app listens yet, so retry with back-off, IP first (docs/reference/arm-notes.md §6).
 * /health needs the key when imaginary runs with -key (docs/reference/imaginary-api.md §2.1, §3). Every probe
 * goes through the imaginary client over HTTPS pinned to the group's certificate: nothing, not
 * even the key, is sent to an address that does not prove it holds that certificate.
 */
import { AciimgError } from "../../errors.js";
import type { Clock } from "../../engine/types.js";
import { createImaginaryClient, type ImaginaryClient } from "../../client/client.js";
import { waitForHealth } from "../../client/health-wait.js";

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
  /**
   * Upper bound on attempts (besides the signal).
   * @default 40 (about a minute of back-off)
   */
  attempts?: number;
  /**
   * Per-attempt bound.
   * @default 5 s
   */
  attemptTimeoutMs?: number;
}

function clientOf(backend: GroupBackend, timeoutMs: number): ImaginaryClient {
  return createImaginaryClient({
    ...backend,
    connections: 1,
    connectTimeoutMs: timeoutMs,
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
  });
}

/**
 * Resolves "healthy" once /health answers 200 with the key, "unauthorized" on 401, "unreachable"
 * when the attempts run out. A backend that presents another certificate (E_BACKEND_UNTRUSTED) or
 * answers in plain HTTP (E_PROVISION) fails at once: waiting would not change either.
 */
export async function probeHealth(backend: GroupBackend, options: ProbeOptions): Promise<HealthResult> {
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;
  const client = clientOf(backend, attemptTimeoutMs);
  try {
    const probe = await waitForHealth(client, {
      clock: options.clock,
      signal: options.signal,
      attempts: options.attempts ?? 40,
      attemptTimeoutMs,
      firstDelayMs: 100,
      maxDelayMs: 2000,
      // A refused key or an untrusted peer ends the wait: waiting would change neither. Unreachable
      // (refused, reset, per-attempt timeout): not up yet.
      onAttempt: (probe) => probe.state !== "unreachable",
    });
    if (probe.state === "untrusted") {
      if (probe.error.detail?.plainText !== true) throw probe.error;
      throw new AciimgError(
        "E_PROVISION",
        `${backend.endpoint} answers in plain HTTP, not TLS: the image ignored -certfile/-keyfile`,
        { cause: probe.error },
      );
    }
    return probe.state;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * True when the backend answers GET /health without any key. imaginary checks the key on every
 * route once `-key` is set (docs/reference/imaginary-api.md §2.1), so a 200 here means the image ignored
 * IMAGINARY_SECRET and would serve anyone who reaches its public IP.
 */
export async function servesWithoutKey(backend: GroupBackend, signal?: AbortSignal): Promise<boolean> {
  const client = clientOf({ ...backend, apiKey: "" }, 5000);
  try {
    const probe = await client.probe(
      signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000),
    );
    return probe.state === "healthy";
  } finally {
    await client.close().catch(() => undefined);
  }
}
