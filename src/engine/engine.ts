/**
 * The engine (DESIGN.md §1): provision-or-proxy over a Provider and a StateStore. `ensure`,
 * `reap`, `status`, `down`, `call`'s retry (call-retry.ts) and the client cache (clients.ts) live
 * in their own files; this one wires them with single-flight and lastUsed bookkeeping.
 */
import { hostname } from "node:os";
import { finished } from "node:stream";
import { systemClock } from "../clock.js";
import { AciimgError } from "../errors.js";
import { sendWithRetry } from "./call-retry.js";
import { createBackendClients, type RequestTimeout } from "./clients.js";
import { takeDown } from "./down.js";
import { createEnsure, type EnsureOptions } from "./ensure.js";
import { reapBackends } from "./reap.js";
import { createFlight } from "./shared-flight.js";
import { specDrift } from "./spec-drift.js";
import { statusOf } from "./status.js";
import type {
  BackendRecord,
  BackendSpec,
  Clock,
  Engine,
  EnsureResult,
  ImageRequest,
  ImageResponse,
  Provider,
  StateStore,
  StatusReport,
} from "./types.js";
import { createUsageTracker } from "./usage.js";

export interface EngineOptions {
  provider: Provider;
  store: StateStore;
  spec: BackendSpec;
  clock?: Clock;
  /**
   * Least time between two lastUsed writes during work.
   * @default 5 s
   */
  touchIntervalMs?: number;
  /**
   * This host's name, for provisioning claims.
   * @default os.hostname()
   */
  host?: string;
  /**
   * This process's pid, for provisioning claims.
   * @default process.pid
   */
  pid?: number;
  /**
   * Bound on one provisioning; also the age under which an unrecorded backend is not yet an orphan.
   * @default 10 min
   */
  createTimeoutMs?: number;
  /**
   * Idle limit `status` reports time-to-reap against.
   * @default 5 min
   */
  idleMs?: number;
  /**
   * Heartbeat of a provisioning claim.
   * @default 5 s
   */
  heartbeatMs?: number;
  /**
   * A claim with an older heartbeat is abandoned.
   * @default 30 s
   */
  staleProvisionerMs?: number;
  /**
   * A backend seen healthy this recently is used without a /health probe.
   * @default 10 s
   */
  trustMs?: number;
  /**
   * Keep-alive connections per backend.
   * @default 16
   */
  connections?: number;
  /**
   * How long a call waits for the backend's answer (and each pause in it) before it fails with
   * E_REQUEST_TIMEOUT, never sent again; `advice` says how to raise it. Default: the client's (2 min).
   */
  requestTimeout?: RequestTimeout;
  /**
   * A pool's member (engine/pool.ts): calls go only to the backend `ensure` found and never
   * provision. One whose backend vanished fails (E_BACKEND_UNREACHABLE), and the pool sends the
   * request to another member. Default false: a call provisions again, at most twice.
   */
  poolMember?: boolean;
}

/**
 * Creates an engine. (Long only for its methods, each short:
 * they share `active`, the client cache and the usage tracker.)
 */
export function createEngine(options: EngineOptions): Engine {
  const { provider, store, spec } = options;
  const clock = options.clock ?? systemClock;
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const createTimeoutMs = options.createTimeoutMs ?? 10 * 60_000;
  const staleProvisionerMs = options.staleProvisionerMs ?? 30_000;
  const idleLimitMs = options.idleMs ?? 5 * 60_000;

  const clients = createBackendClients(options.connections, options.requestTimeout);
  const { seenHealthy } = clients;

  const ensureOnce = createEnsure(
    {
      provider,
      store,
      spec,
      clock,
      host,
      pid,
      createTimeoutMs,
      staleProvisionerMs,
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
    if (active && active.id !== result.record.id) void clients.drop(active.id);
    active = result.record;
    return result;
  });

  function ensure(ensureOptions: EnsureOptions = {}): Promise<EnsureResult> {
    return ensuring.join(ensureOptions.signal, ensureOptions.onPhase);
  }

  async function send(record: BackendRecord, request: ImageRequest): Promise<ImageResponse> {
    const response = await clients.clientFor(record).request(request);
    seenHealthy.set(record.id, clock.now());
    return response;
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
        const record =
          active ?? (options.poolMember ? notEnsured(spec.name) : (await ensure({ signal: request.signal })).record);
        const response = await sendWithRetry(
          record,
          request,
          {
            send,
            forget: (vanished) => {
              if (active?.id === vanished.id) active = undefined;
              seenHealthy.delete(vanished.id);
            },
            ensure: async (signal) => (await ensure({ signal })).record,
          },
          options.poolMember ? 0 : undefined,
        );
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
      const context = { provider, name: spec.name, store, clock, host, createTimeoutMs, staleProvisionerMs };
      return reapBackends(context, reapOptions);
    },

    async drift() {
      const record = (await store.read()).backends[spec.name];
      // A provisioning claim is not a backend yet, and one of another provider is ensure's E_STATE.
      if (!record || record.provider !== provider.kind || record.status !== "running") return [];
      return specDrift(record.spec, spec, provider.kind);
    },

    async status(statusOptions = {}): Promise<StatusReport> {
      return statusOf(
        { provider, spec, clock, host, staleProvisionerMs, idleLimitMs },
        await store.read(),
        statusOptions,
      );
    },

    async down(downOptions = {}) {
      const { report, takenIds } = await takeDown(
        { provider, store, spec, onDeleted: (id) => clients.drop(id) },
        downOptions,
      );
      if (active && (takenIds.has(active.id) || report.removed.some((ref) => ref.id === active?.id)))
        active = undefined;
      return report;
    },

    async close() {
      await usage.close();
      await clients.close();
    },
  };
}

/** A pool member's call with no backend found (or its backend found vanished): the pool sends it elsewhere. */
function notEnsured(name: string): never {
  throw new AciimgError(
    "E_BACKEND_UNREACHABLE",
    `the backend "${name}" vanished; the pool sends its images to another member`,
  );
}
