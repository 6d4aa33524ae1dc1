/**
 * The composition root: turns a Config into a provider, a state store and an engine. Azure
 * modules are imported on demand, so a local run never loads the Azure SDK (STYLE.md "Shape").
 */
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { systemClock } from "./clock.js";
import { backendSpecOf, requestTimeoutAdvice, type Config } from "./config.js";
import { createEngine } from "./engine/engine.js";
import { AciimgError, usageError } from "./errors.js";
import { createPool } from "./engine/pool.js";
import type { Pool, PoolOptions } from "./engine/pool-types.js";
import { localMemberName, memberLabel, memberName } from "./engine/pool-names.js";
import type { BackendRecord, Clock, CreatePlan, Engine, Provider, StateStore } from "./engine/types.js";
import { createLocalProvider } from "./providers/local/local.js";
import { localSelf } from "./providers/local/lifecycle.js";
import { createFileStateStore } from "./state/file.js";

export interface OpenOptions {
  clock?: Clock;
  /**
   * Told what a person should know but that does not stop the run (a state file that was readable by
   * others, a registry entry that was ignored), one sentence each. The surface prints it.
   */
  warn?: (message: string) => void;
}

/** Local backends started by a local provider keep their logs and registry beside the state file. */
export function localRunDir(config: Config): string {
  return join(dirname(config.statePath), "local");
}

/** A local backend is healthy in about a second; ACI takes minutes (docs/reference/arm-notes.md). */
const localCreateTimeoutMs = 60_000;

/** True when the state is in Azure Blob (the Functions app), not in the JSON file. */
const isBlobState = (config: Config): boolean => Boolean(config.blob.connectionString || config.blob.containerUrl);

/** True when this config's backends stop themselves after the idle limit: local, with the state in a file. */
export function stopsItselfWhenIdle(config: Config): boolean {
  return config.provider === "local" && !isBlobState(config);
}

/**
 * The local provider for this config. Its backends stop themselves after the idle limit, removing
 * their record from the state file first; with the state in Azure Blob, which a backend cannot
 * reach without the storage secret, they wait for `reap` (the Functions app's timer, `serve`'s loop).
 */
function localProviderOf(config: Config, clock: Clock, warn: OpenOptions["warn"]): Provider {
  // At least a second: a backend idle from birth could otherwise stop between its create and the first request.
  const idleMs = Math.max(config.idleMs, 1_000);
  const idleExit = isBlobState(config) ? undefined : { idleMs, statePath: config.statePath };
  const logDir = localRunDir(config);
  return createLocalProvider({ env: config.env, clock, logDir, onWarning: warn, ...(idleExit ? { idleExit } : {}) });
}

/** The provider the config selects (`aciimg logs`, `aciimg down` use it directly). */
export async function openProvider(config: Config, options: OpenOptions = {}): Promise<Provider> {
  const clock = options.clock ?? systemClock;
  if (config.provider === "aci") {
    const { createAciProvider } = await import("./providers/aci/aci.js");
    return createAciProvider({ config, clock });
  }
  return localProviderOf(config, clock, options.warn);
}

/** What a local backend started with `--idle-exit` needs to stop itself (engine/idle-stop.ts). */
export interface LocalBackendSelf {
  store: StateStore;
  isSelf(record: BackendRecord): boolean;
  /** A missing record is a create in progress for this long (reap's bound for orphans). */
  orphanAfterMs: number;
  /** Removes its registry entry, socket and log once it has stopped serving. */
  forget(): Promise<void>;
}

/** The backend on `socketPath` (a socket the local provider named) and the state that records it. */
export async function openLocalBackendSelf(
  config: Config,
  socketPath: string,
  options: OpenOptions = {},
): Promise<LocalBackendSelf> {
  const self = localSelf(socketPath);
  const named = "with --idle-exit, a socket the local provider names (backend-<hex>.sock)";
  if (!self) throw usageError("--socket", named, socketPath);
  if (isBlobState(config)) {
    throw new AciimgError("E_USAGE", "backend: --idle-exit needs a state file (--state); this state is in Azure Blob");
  }
  const store = await openStore(config, options);
  const isSelf = (record: BackendRecord): boolean => record.provider === "local" && record.id === self.id;
  return { store, isSelf, orphanAfterMs: localCreateTimeoutMs, forget: self.forget };
}

/**
 * What the selected provider would create for this config (`up --dry-run`), one plan per pool
 * member (one for a single backend); nothing is made.
 */
export async function describeCreate(config: Config): Promise<CreatePlan[]> {
  checkPoolConfig(config);
  const provider = await openProvider(config);
  return Array.from({ length: config.backends }, (_, i) => {
    const plan = provider.describeCreate?.({ ...backendSpecOf(config), name: memberName(config.name, i + 1) });
    if (!plan)
      throw new AciimgError("E_INTERNAL", `the ${provider.kind} provider cannot describe what it would create`);
    return plan;
  });
}

/** The state store the config selects: Azure Blob when configured (Functions app), else the JSON file. */
export async function openStore(config: Config, options: OpenOptions = {}): Promise<StateStore> {
  if (isBlobState(config)) {
    const { createBlobStateStore } = await import("./state/blob.js");
    return createBlobStateStore(config.blob);
  }
  // No injected clock here: lock ages are compared across processes and with file times, in wall-clock time.
  return createFileStateStore({ path: config.statePath, onWarning: options.warn });
}

/** The engine for this config. Call `close()` when done. */
export async function openEngine(config: Config, options: OpenOptions = {}): Promise<Engine> {
  const clock = options.clock ?? systemClock;
  const [provider, store] = await Promise.all([
    openProvider(config, { ...options, clock }),
    openStore(config, { ...options, clock }),
  ]);
  return createEngine({
    provider,
    store,
    spec: backendSpecOf(config),
    clock,
    idleMs: config.idleMs,
    createTimeoutMs: createTimeoutOf(config),
    requestTimeout: requestTimeoutOf(config),
  });
}

/** The request timeout of every call, and the settings that raise it (named in its E_REQUEST_TIMEOUT). */
function requestTimeoutOf(config: Config): { ms: number; advice: string } {
  return { ms: config.requestTimeoutMs, advice: requestTimeoutAdvice };
}

function createTimeoutOf(config: Config): number {
  return config.provider === "local" ? localCreateTimeoutMs : config.azure.createTimeoutMs;
}

/** True when this config asks a batch for more than one backend: `backends` > 1, or `withLocal` on aci. */
export function wantsPool(config: Config): boolean {
  checkPoolConfig(config);
  return !isPoolOfOne(config);
}

/** True when this config's pool has one member: the single backend (no `backends` > 1, no local member). */
export function isPoolOfOne(config: Config): boolean {
  return config.backends === 1 && !(config.withLocal && config.provider === "aci");
}

/** Refuses a pool the provider cannot have: the local provider runs one backend on this machine. */
export function checkPoolConfig(config: Config): void {
  if (config.provider === "local" && config.backends > 1) {
    throw usageError(
      "--backends",
      "1 on the local provider (it runs one backend, " +
        "on this machine, using every core; a pool of backends is for --provider aci)",
      config.backends,
    );
  }
}

/**
 * The batch's pool for this config: members aci-1…aci-N (N = `backends`), each an engine of its
 * own name (engine/pool-names.ts), and with `withLocal` on aci a `local` member, the built-in
 * backend on this machine, taken down when the pool closes. A pool of one is the single backend,
 * with its window. Call `close()` when done.
 */
export async function openPool(
  config: Config,
  settings: Omit<PoolOptions, "members">,
  options: OpenOptions = {},
): Promise<Pool> {
  checkPoolConfig(config);
  const clock = options.clock ?? systemClock;
  const [provider, store] = await Promise.all([
    openProvider(config, { ...options, clock }),
    openStore(config, { ...options, clock }),
  ]);
  // A pool member never provisions in a call: the pool sends a vanished member's requests
  // elsewhere. The one backend of a pool of one is the single backend, which does provision again.
  const single = isPoolOfOne(config);
  const member = (memberProvider: Provider, spec: ReturnType<typeof backendSpecOf>, createTimeoutMs: number): Engine =>
    createEngine({
      provider: memberProvider,
      store,
      spec,
      clock,
      idleMs: config.idleMs,
      createTimeoutMs,
      poolMember: !single,
      connections: settings.maxWindow ?? 64,
      requestTimeout: requestTimeoutOf(config),
    });
  const members: PoolOptions["members"] = [];
  for (let index = 1; index <= config.backends; index++) {
    members.push({
      label: memberLabel(provider.kind, index),
      engine: member(
        provider,
        { ...backendSpecOf(config), name: memberName(config.name, index) },
        createTimeoutOf(config),
      ),
    });
  }
  if (config.withLocal && config.provider === "aci") {
    const local = localProviderOf(config, clock, options.warn);
    const spec = {
      ...backendSpecOf({ ...config, provider: "local", cpu: availableParallelism() }),
      name: localMemberName(config.name),
    };
    const engine = member(local, spec, localCreateTimeoutMs);
    // The local member is the batch's own: it starts in a second, so none is left running after.
    members.push({ label: "local", engine, release: async () => void (await engine.down()) });
  }
  return createPool({ ...settings, members });
}
