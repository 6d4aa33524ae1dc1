/**
 * ensure()'s check of a recorded backend: one GET /health with its key, skipped when it was seen
 * healthy within `trustMs`; only when /health fails is `provider.inspect` asked what to do.
 */
import { AciimgError, isAbortError, isAciimgError } from "../errors.js";
import { createImaginaryClient } from "../client/client.js";
import { dropRecord as dropRecordOf } from "./ensure-claim.js";
import type { EnsureContext } from "./ensure.js";
import type { BackendRecord } from "./types.js";

/**
 * `patientUntil`: while the provider says running but /health fails,
 * wait until then (a container still starting its server), then fail.
 */
export async function verify(
  context: EnsureContext,
  seenHealthy: Map<string, number>,
  record: BackendRecord,
  patientUntil: number,
  signal?: AbortSignal,
): Promise<"healthy" | "replace" | "wait"> {
  const { provider, store, clock } = context;
  const name = context.spec.name;
  const dropRecord = (id: string): Promise<boolean> => dropRecordOf(store, name, id);
  const seen = seenHealthy.get(record.id);
  if (seen !== undefined && clock.now() - seen < context.trustMs) return "healthy";
  if (record.provider === "aci" && !record.tlsFingerprint) {
    // Recorded before aciimg pinned TLS: it served plain http, which is never spoken to an ACI
    // backend again. It is ours (in our state): replace it.
    if (await dropRecord(record.id)) await provider.delete(record, signal);
    return "replace";
  }
  // A probe of its own with short timeouts: the call pool waits minutes for big images, a
  // health check of a wedged backend must not.
  const probe = createImaginaryClient({
    endpoint: record.endpoint,
    apiKey: record.apiKey,
    tlsFingerprint: record.tlsFingerprint,
    connectTimeoutMs: 3_000,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    connections: 1,
  });
  try {
    await probe.health(signal);
    seenHealthy.set(record.id, clock.now());
    return "healthy";
  } catch (error) {
    if (isAbortError(error) || (isAciimgError(error) && error.code === "E_ABORTED")) throw error;
    seenHealthy.delete(record.id);
    const live = await provider.inspect(record, signal);
    switch (live.state) {
      case "gone":
        await dropRecord(record.id);
        return "replace";
      case "failed":
        if (await dropRecord(record.id)) await provider.delete(record, signal);
        return "replace";
      case "provisioning":
        return "wait";
      case "running":
        if (live.endpoint !== record.endpoint) {
          // The provider moved it (e.g. an ACI restart with a new IP): keep the backend, fix the record.
          await store.update((state) => {
            const current = state.backends[name];
            if (current?.id === record.id) current.endpoint = live.endpoint;
          });
          return "wait";
        }
        // The provider still puts it at this address, yet another certificate answers there:
        // someone is in the way. Waiting would not help, and nothing was sent to them.
        if (isAciimgError(error) && error.code === "E_BACKEND_UNTRUSTED") throw error;
        if (clock.now() < patientUntil) return "wait";
        throw new AciimgError(
          "E_BACKEND_UNREACHABLE",
          `the ${provider.kind} backend ${record.id} is running but ${record.endpoint}/health fails: ` +
            `${(error as Error).message}. ` +
            `Retry in a moment, or run \`aciimg down\` to replace it.`,
          { cause: error },
        );
    }
  } finally {
    await probe.close().catch(() => undefined);
  }
}
