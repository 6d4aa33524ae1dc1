/**
 * The engine (DESIGN.md §1): provision-or-proxy over a Provider and a StateStore. `ensure` and
 * `reap` live in their own files; this one wires them with the client pool cache, `call`'s
 * retry-once, lastUsed bookkeeping, `status` and `down`.
 */
import { hostname } from "node:os";
import { finished } from "node:stream";
import { systemClock } from "../clock.js";
import { isAciimgError } from "../errors.js";
import { createImaginaryClient, type ImaginaryClient } from "../imaginary/client.js";
import { createEnsure, isProvisionerDead, type EnsureOptions } from "./ensure.js";
import { foreignOf, ownershipOf } from "./owner.js";
import { reapBackends } from "./reap.js";
import { createFlight } from "./shared-flight.js";
import { specDrift } from "./spec-drift.js";
import type { BackendRecord, BackendRef, BackendSpec, Clock, Engine, EnsureResult, ForeignBackend, ImageRequest, ImageResponse, Provider, State, StateStore, StatusReport } from "./types.js";
import { createUsageTracker } from "./usage.js";

export interface EngineOptions {
  provider: Provider;
  store: StateStore;
  spec: BackendSpec;
  clock?: Clock;
  /** Least time between two lastUsed writes during work. Default 5 s. */
  touchIntervalMs?: number;
  /** This host's name, for provisioning claims. Default os.hostname(). */
  host?: string;
  /** This process's pid, for provisioning claims. Default process.pid. */
  pid?: number;
  /** Bound on one provisioning; also the age under which an unrecorded backend is not yet an orphan. Default 10 min. */
  createTimeoutMs?: number;
  /** Idle limit `status` reports time-to-reap against. Default 5 min. */
  idleMs?: number;
  /** Heartbeat of a provisioning claim. Default 5 s. */
  heartbeatMs?: number;
  /** A claim with an older heartbeat is abandoned. Default 30 s. */
  staleProvisionerMs?: number;
  /** A backend seen healthy this recently is used without a /health probe. Default 10 s. */
  trustMs?: number;
  /** Keep-alive connections per backend. Default 16. */
  connections?: number;
}

/**
 * How often one call provisions again after its backend vanished. Bounded, so an input that
 * crashes the backend costs at most this many extra backends before the call fails.
 */
const maxVanishedRetries = 2;

/** True when an error means "the backend this record names is not there (any more)". */
function isVanished(error: unknown): boolean {
  if (!isAciimgError(error)) return false;
  // Untrusted: something else answers at the address (an ACI group's IP can change on restart);
  // ensure re-reads the provider and refuses for good when the backend is still said to be there.
  if (error.code === "E_BACKEND_UNREACHABLE" || error.code === "E_BACKEND_UNTRUSTED") return true;
  // 401: the endpoint answers with another key, so it is not our backend (port reused).
  return error.code === "E_IMAGE" && error.detail?.status === 401;
}

/** Creates an engine. */
export function createEngine(options: EngineOptions): Engine {
  const { provider, store, spec } = options;
  const clock = options.clock ?? systemClock;
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const createTimeoutMs = options.createTimeoutMs ?? 10 * 60_000;
  const staleProvisionerMs = options.staleProvisionerMs ?? 30_000;
  const idleLimitMs = options.idleMs ?? 5 * 60_000;

  const clients = new Map<string, ImaginaryClient>();
  const seenHealthy = new Map<string, number>();
  const clientFor = (record: BackendRecord): ImaginaryClient => {
    const key = `${record.id} ${record.endpoint} ${record.tlsFingerprint ?? ""}`;
    let client = clients.get(key);
    if (!client) {
      client = createImaginaryClient({ endpoint: record.endpoint, apiKey: record.apiKey, tlsFingerprint: record.tlsFingerprint, connections: options.connections });
      clients.set(key, client);
    }
    return client;
  };
  const dropClients = async (id: string): Promise<void> => {
    seenHealthy.delete(id);
    for (const [key, client] of clients) {
      if (key.startsWith(`${id} `)) {
        clients.delete(key);
        await client.close().catch(() => undefined);
      }
    }
  };

  const ensureOnce = createEnsure(
    {
      provider, store, spec, clock, host, pid, createTimeoutMs, staleProvisionerMs,
      heartbeatMs: options.heartbeatMs ?? 5_000,
      trustMs: options.trustMs ?? 10_000,
    },
    seenHealthy,
  );
  const usage = createUsageTracker({ store, name: spec.name, clock, intervalMs: options.touchIntervalMs ?? 5_000 });

  /** The backend calls go to, until one of them finds it vanished. */
  let active: BackendRecord | undefined;
  /**
   * Single-flight inside the process: concurrent callers share one ensure. Each caller's signal
   * only ends its own wait; the shared run is cancelled when the last waiter leaves.
   */
  const ensuring = createFlight<EnsureResult>(async (signal, onPhase) => {
    const result = await ensureOnce({ signal, onPhase });
    if (active && active.id !== result.record.id) void dropClients(active.id);
    active = result.record;
    return result;
  });

  function ensure(ensureOptions: EnsureOptions = {}): Promise<EnsureResult> {
    return ensuring.join(ensureOptions.signal, ensureOptions.onPhase);
  }

  async function send(record: BackendRecord, request: ImageRequest): Promise<ImageResponse> {
    const response = await clientFor(record).request(request);
    seenHealthy.set(record.id, clock.now());
    return response;
  }

  /** What the provider lists that this state does not own (its own recorded backends excepted, owner tag or not). */
  async function othersIn(state: State, signal?: AbortSignal): Promise<ForeignBackend[]> {
    const known = new Set(Object.values(state.backends).map((record) => record.id));
    const others: ForeignBackend[] = [];
    for (const ref of await provider.list(signal)) {
      const ownership = ownershipOf(ref, state.owner);
      if (ownership !== "ours" && !known.has(ref.id)) others.push(foreignOf(ref, ownership));
    }
    return others;
  }

  return {
    provider,
    ensure,

    async call(request) {
      usage.begin();
      let ended = false;
      const end = (): void => {
        if (!ended) {
          ended = true;
          usage.end();
        }
      };
      try {
        let record = active ?? (await ensure({ signal: request.signal })).record;
        let response: ImageResponse | undefined;
        for (let retries = 0; response === undefined; retries++) {
          try {
            response = await send(record, request);
          } catch (error) {
            if (!isVanished(error) || request.signal?.aborted || retries === maxVanishedRetries) throw error;
            // Reaped, killed or replaced under us: forget it, ensure (provisions if needed), retry.
            // Operations are idempotent (imaginary-api.md §1.5), so a replay is safe. Normally one
            // retry is enough; a second covers a reaper with a tiny idle limit deleting even the
            // backend provisioned for the first retry before the replay reached it.
            if (active?.id === record.id) active = undefined;
            seenHealthy.delete(record.id);
            record = (await ensure({ signal: request.signal })).record;
          }
        }
        // Work ends when the response body is consumed (or abandoned), not when headers arrive.
        finished(response.body, end);
        return response;
      } catch (error) {
        end();
        throw error;
      }
    },

    beginWork() {
      usage.begin();
      let ended = false;
      return {
        async end() {
          if (ended) return;
          ended = true;
          usage.end();
          await usage.flush();
        },
      };
    },

    reap(reapOptions) {
      return reapBackends({ provider, store, clock, host, createTimeoutMs, staleProvisionerMs }, reapOptions);
    },

    async drift() {
      const record = (await store.read()).backends[spec.name];
      // A provisioning claim is not a backend yet, and one of another provider is ensure's E_STATE.
      if (!record || record.provider !== provider.kind || record.status !== "running") return [];
      return specDrift(record.spec, spec, provider.kind);
    },

    async status(statusOptions = {}): Promise<StatusReport> {
      const state = await store.read();
      const record = state.backends[spec.name];
      const listing = othersIn(state, statusOptions.signal);
      // Settled here too: a failed inspect must not leave the listing's rejection unhandled.
      listing.catch(() => undefined);
      const base = { provider: provider.kind, name: spec.name };
      if (!record || record.provider !== provider.kind) return { ...base, state: "none", others: await listing };
      const common = {
        ...base,
        createdAt: record.createdAt,
        ...(statusOptions.showKey ? { apiKey: record.apiKey } : {}),
      };
      if (record.status === "provisioning") {
        const who = record.provisioner ? `pid ${record.provisioner.pid} on ${record.provisioner.host}` : "an unknown process";
        return isProvisionerDead(record, { host, clock, staleProvisionerMs })
          ? { ...common, state: "failed", detail: `provisioning by ${who} was abandoned; the next command starts a new backend`, others: await listing }
          : { ...common, state: "provisioning", detail: `being provisioned by ${who}`, others: await listing };
      }
      const live = await provider.inspect(record, statusOptions.signal);
      const idleMs = Math.max(0, clock.now() - Date.parse(record.lastUsed));
      // Idle time and a reap countdown describe a backend that exists. A gone or failed one is
      // replaced by the next ensure(), whatever its idle time, so a countdown would mislead.
      const exists = live.state === "running" || live.state === "provisioning";
      return {
        ...common,
        state: live.state,
        endpoint: live.state === "running" ? live.endpoint : record.endpoint,
        lastUsed: record.lastUsed,
        ...(exists ? { idleMs, reapInMs: Math.max(0, idleLimitMs - idleMs) } : {}),
        ...(live.state === "failed" ? { detail: live.detail } : live.state === "provisioning" && live.detail ? { detail: live.detail } : {}),
        others: await listing,
      };
    },

    async down(downOptions = {}) {
      let owner: string | undefined;
      const taken = await store.update((state) => {
        owner = state.owner;
        const record = state.backends[spec.name];
        if (!record || record.provider !== provider.kind) return undefined;
        delete state.backends[spec.name];
        return record;
      });
      const removed: BackendRef[] = [];
      if (taken?.status === "running") {
        await provider.delete(taken, downOptions.signal);
        removed.push({ provider: taken.provider, id: taken.id, name: taken.name, createdAt: taken.createdAt });
        await dropClients(taken.id);
      }
      // A provisioning claim has no backend yet; its provisioner finds the claim gone and deletes
      // what it made. Our backends of this name the state lost track of go too: "down" means none
      // left. Another state's (or one made before owner ids) only with `force`: it may be running
      // for someone else, and deleting it is a decision the user makes by name.
      const others: ForeignBackend[] = [];
      for (const ref of await provider.list(downOptions.signal)) {
        if (ref.name !== spec.name || ref.id === taken?.id) continue;
        const ownership = ownershipOf(ref, owner);
        if (ownership !== "ours" && !downOptions.force) {
          others.push(foreignOf(ref, ownership));
          continue;
        }
        await provider.delete(ref, downOptions.signal);
        removed.push(ref);
      }
      if (active && (active.id === taken?.id || removed.some((ref) => ref.id === active?.id))) active = undefined;
      return { removed, others };
    },

    async close() {
      await usage.close();
      await Promise.all([...clients.values()].map((client) => client.close().catch(() => undefined)));
      clients.clear();
    },
  };
}
