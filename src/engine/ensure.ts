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
import { randomBytes } from "node:crypto";
import { AciimgError, isAbortError, isAciimgError } from "../errors.js";
import { createImaginaryClient } from "../imaginary/client.js";
import { ownerOf } from "./owner.js";
import { isProcessAlive } from "../host-process.js";
import { specDrift } from "./spec-drift.js";
import type { BackendRecord, BackendSpec, Clock, EnsureResult, Provider, StateStore } from "./types.js";

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

/** True when a `provisioning` record's provisioner is gone: dead pid on this host, or a stale heartbeat. */
export function isProvisionerDead(record: BackendRecord, context: Pick<EnsureContext, "host" | "clock" | "staleProvisionerMs">): boolean {
  const provisioner = record.provisioner;
  if (!provisioner) return true;
  if (provisioner.host === context.host && !isProcessAlive(provisioner.pid)) return true;
  const heartbeat = Date.parse(provisioner.heartbeat);
  return !Number.isFinite(heartbeat) || context.clock.now() - heartbeat > context.staleProvisionerMs;
}

/** Creates the ensure function of one engine; `seenHealthy` is shared with `call` (a success is a probe). */
export function createEnsure(context: EnsureContext, seenHealthy: Map<string, number>): (options: EnsureOptions) => Promise<EnsureResult> {
  const { provider, store, spec, clock } = context;
  const name = spec.name;

  /** Removes the record if it is still `id`; returns whether it did. */
  const dropRecord = (id: string): Promise<boolean> =>
    store.update((state) => {
      if (state.backends[name]?.id !== id) return false;
      delete state.backends[name];
      return true;
    });

  /** `patientUntil`: while the provider says running but /health fails, wait until then (a container still starting its server), then fail. */
  async function verify(record: BackendRecord, patientUntil: number, signal?: AbortSignal): Promise<"healthy" | "replace" | "wait"> {
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
    const probe = createImaginaryClient({ endpoint: record.endpoint, apiKey: record.apiKey, tlsFingerprint: record.tlsFingerprint, connectTimeoutMs: 3_000, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, connections: 1 });
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
            `the ${provider.kind} backend ${record.id} is running but ${record.endpoint}/health fails: ${(error as Error).message}. ` +
              `Retry in a moment, or run \`aciimg down\` to replace it.`,
            { cause: error },
          );
      }
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  async function provision(claim: BackendRecord, owner: string, options: EnsureOptions, started: number): Promise<EnsureResult | undefined> {
    const heartbeat = new AbortController();
    const beat = async (): Promise<void> => {
      while (!heartbeat.signal.aborted) {
        try {
          await clock.sleep(context.heartbeatMs, heartbeat.signal);
          await store.update((state) => {
            const current = state.backends[name];
            if (current?.id === claim.id && current.provisioner) current.provisioner.heartbeat = new Date(clock.now()).toISOString();
          });
        } catch {
          if (heartbeat.signal.aborted) return;
        }
      }
    };
    const beating = beat();
    let record: BackendRecord;
    try {
      record = await provider.create(spec, { apiKey: claim.apiKey, owner, signal: options.signal, onPhase: options.onPhase });
    } catch (error) {
      heartbeat.abort();
      await beating;
      await dropRecord(claim.id).catch(() => undefined);
      if (isAciimgError(error)) throw error;
      if (isAbortError(error)) throw new AciimgError("E_ABORTED", `provisioning the ${provider.kind} backend was cancelled`, { cause: error });
      throw new AciimgError("E_PROVISION", `cannot provision a ${provider.kind} backend: ${(error as Error).message}`, { cause: error });
    }
    heartbeat.abort();
    await beating;
    let stored: boolean;
    try {
      stored = await store.update((state) => {
        if (state.backends[name]?.id !== claim.id) return false;
        const now = new Date(clock.now()).toISOString();
        state.backends[name] = { ...record, lastUsed: now, status: "running" };
        return true;
      });
    } catch (error) {
      // Leave nothing behind: a backend the state cannot name would run unreaped until orphan reaping.
      await provider.delete(record).catch(() => undefined);
      throw error;
    }
    if (!stored) {
      // Our claim was taken over (we looked dead) or removed by `down`: this backend is surplus.
      await provider.delete(record).catch(() => undefined);
      return undefined;
    }
    seenHealthy.set(record.id, clock.now());
    return { record: { ...record, status: "running" }, created: true, readyMs: clock.now() - started, drift: [] };
  }

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
        const claim = newClaim();
        // The claim and the state's owner id (made on the first create) are written together.
        const owner = await store.update((state) => {
          if (state.backends[name]) return undefined;
          state.backends[name] = claim;
          return ownerOf(state);
        });
        if (owner !== undefined) {
          const result = await provision(claim, owner, options, started);
          if (result) return result;
        }
        continue;
      }

      if (record.provider !== provider.kind) {
        throw new AciimgError(
          "E_STATE",
          `the state ${store.location} records a ${record.provider} backend named "${name}", but the provider is ${provider.kind}. ` +
            `Run \`aciimg down --provider ${record.provider}\` first, or use another --name.`,
        );
      }

      if (record.status === "running") {
        const verdict = await verify(record, started + unhealthyPatienceMs, options.signal);
        if (verdict === "healthy") return { record, created: false, readyMs: clock.now() - started, drift: specDrift(record.spec, spec, provider.kind) };
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

  function newClaim(): BackendRecord {
    const now = new Date(clock.now()).toISOString();
    const token = randomBytes(6).toString("hex");
    return {
      provider: provider.kind,
      id: `provisioning:${context.host}:${context.pid}:${token}`,
      name,
      endpoint: "",
      // The key is chosen before create so the claim and the backend agree on it.
      apiKey: randomBytes(24).toString("base64url"),
      createdAt: now,
      lastUsed: now,
      status: "provisioning",
      spec,
      provisioner: { pid: context.pid, host: context.host, heartbeat: now },
    };
  }
}
