/**
 * ensure(): a healthy backend, provisioned at most once across processes (DESIGN.md §1).
 *
 * The state record is the cross-process mutex. Under the store's lock (file) or ETag (blob), the
 * first process writes a `provisioning` claim carrying its pid, host and a heartbeat, and only then
 * calls `provider.create` — outside the lock, which is held for milliseconds only. Everyone else
 * sees the claim and waits, re-reading the state with bounded back-off. A claim whose provisioner
 * died (pid gone on this host, or heartbeat older than `staleProvisionerMs` anywhere) is cleared
 * and claimed anew; a failed create clears its claim, so the state never names a backend that does
 * not exist.
 *
 * Verifying a recorded backend: one GET /health with its key (cheap for local and aci alike; no
 * ARM call), skipped when this engine saw it healthy within `trustMs`. Only when /health fails is
 * `provider.inspect` asked, to tell "gone" (replace) from "failed" (delete, replace) from
 * "provisioning" (wait) from "running at a new endpoint" (update the record).
 */
import { AciimgError } from "../errors.js";
import { claimAndProvision, dropRecord as dropRecordOf, isProvisionerDead } from "./ensure-claim.js";
import { verify } from "./ensure-verify.js";
import { specDrift } from "./spec-drift.js";
import type { BackendSpec, Clock, EnsureResult, Provider, StateStore } from "./types.js";

export { isProvisionerDead } from "./ensure-claim.js";

export interface EnsureContext {
  provider: Provider;
  store: StateStore;
  spec: BackendSpec;
  clock: Clock;
  host: string;
  pid: number;
  /** Bound on one provisioning (ours or another process's) before giving up. */
  createTimeoutMs: number;
  /** How often a provisioner refreshes its claim's heartbeat. */
  heartbeatMs: number;
  /** A claim whose heartbeat is older than this is abandoned. */
  staleProvisionerMs: number;
  /** A backend seen healthy this recently is trusted without a probe. */
  trustMs: number;
}

/** How long a backend the provider calls running may fail /health before ensure gives up on it. */
const unhealthyPatienceMs = 30_000;

export interface EnsureOptions {
  signal?: AbortSignal;
  onPhase?: (phase: string) => void;
}

/** Creates the ensure function of one engine; `seenHealthy` is shared with `call` (a success is a probe). */
export function createEnsure(
  context: EnsureContext,
  seenHealthy: Map<string, number>,
): (options: EnsureOptions) => Promise<EnsureResult> {
  const { provider, store, spec, clock } = context;
  const name = spec.name;

  const dropRecord = (id: string): Promise<boolean> => dropRecordOf(store, name, id);

  return async function ensure(options: EnsureOptions): Promise<EnsureResult> {
    const started = clock.now();
    const deadline = started + context.createTimeoutMs + context.staleProvisionerMs;
    let backoffMs = 25;
    let announcedWait = false;
    for (;;) {
      if (options.signal?.aborted) throw new AciimgError("E_ABORTED", "waiting for the backend was cancelled");
      // Every path round this loop (waiting, replacing, re-claiming) is bounded by one deadline.
      if (clock.now() > deadline) {
        throw new AciimgError(
          "E_TIMEOUT",
          `no healthy ${provider.kind} backend "${name}" after ${Math.round((clock.now() - started) / 1000)}s ` +
            `(state ${store.location}). Check \`aciimg status\`; \`aciimg down\` clears it.`,
        );
      }
      const record = (await store.read()).backends[name];

      if (!record) {
        const result = await claimAndProvision(context, seenHealthy, options, started);
        if (result) return result;
        continue;
      }

      if (record.provider !== provider.kind) {
        throw new AciimgError(
          "E_STATE",
          `the state ${store.location} records a ${record.provider} backend named "${name}", ` +
            `but the provider is ${provider.kind}. ` +
            `Run \`aciimg down --provider ${record.provider}\` first, or use another --name.`,
        );
      }

      if (record.status === "running") {
        const verdict = await verify(context, seenHealthy, record, started + unhealthyPatienceMs, options.signal);
        if (verdict === "healthy")
          return {
            record,
            created: false,
            readyMs: clock.now() - started,
            drift: specDrift(record.spec, spec, provider.kind),
          };
        if (verdict === "replace") continue;
      } else if (isProvisionerDead(record, context)) {
        // Take over: clear the abandoned claim, then claim it ourselves on the next turn. A backend
        // it half-created is not in the state and is removed by orphan reaping.
        await dropRecord(record.id);
        continue;
      } else if (!announcedWait) {
        options.onPhase?.("waiting for another aciimg process to start the backend");
        announcedWait = true;
      }

      await clock.sleep(backoffMs + Math.random() * backoffMs, options.signal).catch((error: unknown) => {
        throw new AciimgError("E_ABORTED", "waiting for the backend was cancelled", { cause: error });
      });
      backoffMs = Math.min(backoffMs * 1.5, 1_000);
    }
  };
}
