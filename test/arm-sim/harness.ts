/**
 * Test harness around the ARM simulator: a config for the real provider pointed at it, with a
 * short LRO poll interval and low SDK retry delays (client options, not sleeps).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config.js";
import { createAciProvider } from "../../src/providers/aci/aci.js";
import type { BackendSpec, Provider } from "../../src/engine/types.js";
import type { TokenCredential } from "@azure/core-auth";
import { startArmSim, type ArmSim, type ArmSimOptions, type Faults } from "./server.js";

/** Env that makes the product fast against the simulator (all real config settings). */
export const FAST_ENV = {
  ACIIMG_POLL_INTERVAL: "20ms",
  ACIIMG_ARM_MAX_RETRIES: "1",
  ACIIMG_ARM_RETRY_DELAY: "10ms",
} as const;

export interface SimHarness {
  sim: ArmSim;
  dir: string;
  config(extraEnv?: Record<string, string>, overrides?: Parameters<typeof loadConfig>[0]): Config;
  provider(extraEnv?: Record<string, string>, credential?: TokenCredential): Provider;
  spec(config?: Config): BackendSpec;
  /** Deletes every group and resets faults: each test starts from an empty subscription. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a simulator and exports its managed-identity variables into this (forked worker)
 * process, because DefaultAzureCredential reads them from process.env.
 */
export async function startHarness(options: ArmSimOptions = {}): Promise<SimHarness> {
  const sim = await startArmSim(options);
  const dir = mkdtempSync(join(tmpdir(), "aciimg-aci-"));
  process.env.IDENTITY_ENDPOINT = sim.identityEndpoint;
  process.env.IDENTITY_HEADER = sim.identityHeader;
  const initialFaults: Faults = { ...sim.faults };
  const config = (extraEnv: Record<string, string> = {}, overrides: Parameters<typeof loadConfig>[0] = {}) =>
    loadConfig({ state: join(dir, "state.json"), ...overrides }, { ...sim.env(), ...FAST_ENV, ...extraEnv }, dir);
  return {
    sim,
    dir,
    config,
    provider: (extraEnv = {}, credential) =>
      createAciProvider({ config: config(extraEnv), ...(credential ? { credential } : {}) }),
    spec: (c = config()) => ({
      name: c.name,
      image: c.image,
      cpu: c.cpu,
      memoryInGB: c.memoryInGB,
      location: c.azure.location,
      maxUploadBytes: c.maxUploadBytes,
      maxResolutionMP: c.maxResolutionMP,
    }),
    reset: async () => {
      for (const g of sim.groups()) await sim.deleteOutOfBand(g.name);
      for (const key of Object.keys(sim.faults) as Array<keyof Faults>) delete sim.faults[key];
      Object.assign(sim.faults, initialFaults);
      sim.requests.length = 0;
    },
    close: async () => {
      await sim.close();
      delete process.env.IDENTITY_ENDPOINT;
      delete process.env.IDENTITY_HEADER;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
