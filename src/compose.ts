/**
 * The composition root: turns a Config into a provider, a state store and an engine. Azure
 * modules are imported on demand, so a local run never loads the Azure SDK (STYLE.md "Shape").
 */
import { dirname, join } from "node:path";
import { systemClock } from "./clock.js";
import { backendSpecOf, type Config } from "./config.js";
import { createEngine } from "./engine/engine.js";
import { AciimgError } from "./errors.js";
import type { Clock, CreatePlan, Engine, Provider, StateStore } from "./engine/types.js";
import { createLocalProvider } from "./providers/local.js";
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

/** The provider the config selects (`aciimg logs`, `aciimg down` use it directly). */
export async function openProvider(config: Config, options: OpenOptions = {}): Promise<Provider> {
  const clock = options.clock ?? systemClock;
  if (config.provider === "aci") {
    const { createAciProvider } = await import("./providers/aci.js");
    return createAciProvider({ config, clock });
  }
  return createLocalProvider({ env: config.env, clock, logDir: localRunDir(config), onWarning: options.warn });
}

/** What the selected provider would create for this config (`up --dry-run`); nothing is made. */
export async function describeCreate(config: Config): Promise<CreatePlan> {
  const provider = await openProvider(config);
  const plan = provider.describeCreate?.(backendSpecOf(config));
  if (!plan) throw new AciimgError("E_INTERNAL", `the ${provider.kind} provider cannot describe what it would create`);
  return plan;
}

/** The state store the config selects: Azure Blob when configured (Functions app), else the JSON file. */
export async function openStore(config: Config, options: OpenOptions = {}): Promise<StateStore> {
  if (config.blob.connectionString || config.blob.containerUrl) {
    const { createBlobStateStore } = await import("./state/blob.js");
    return createBlobStateStore(config.blob);
  }
  // No injected clock here: lock ages are compared across processes and with file times, in wall-clock time.
  return createFileStateStore({ path: config.statePath, onWarning: options.warn });
}

/** The engine for this config. Call `close()` when done. */
export async function openEngine(config: Config, options: OpenOptions = {}): Promise<Engine> {
  const clock = options.clock ?? systemClock;
  const [provider, store] = await Promise.all([openProvider(config, { ...options, clock }), openStore(config, { ...options, clock })]);
  return createEngine({
    provider,
    store,
    spec: backendSpecOf(config),
    clock,
    idleMs: config.idleMs,
    // A local backend is healthy in about a second; ACI takes minutes (arm-notes.md).
    createTimeoutMs: config.provider === "local" ? 60_000 : config.azure.createTimeoutMs,
  });
}
