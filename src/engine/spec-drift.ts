/**
 * Spec drift: the settings in which a backend differs from the spec asked for now. A backend keeps
 * the settings it was created with for as long as it runs (a local process got them as flags, an
 * ACI group as its definition); a changed ACIIMG_MAX_SIZE or --cpu applies only to the next one.
 * Surfaces report drift so such a change never silently does nothing.
 */
import type { BackendSpec, ProviderKind } from "./types.js";

/** The spec fields that shape a running backend. `name` is its identity, not a setting. */
export type DriftSetting =
  | "maxUploadBytes"
  | "maxResolutionMP"
  | "maxRenderTimeMs"
  | "cpu"
  | "image"
  | "memoryInGB"
  | "location";

/** One setting in which the running backend differs from the requested spec. */
export interface SettingDrift {
  setting: DriftSetting;
  running: number | string;
  requested: number | string;
}

/**
 * Which settings a provider's backends actually use: the local backend gets the limits and its CPU
 * count; an ACI group also fixes its image, memory and region.
 */
const settingsOf: Record<ProviderKind, readonly DriftSetting[]> = {
  local: ["maxUploadBytes", "maxResolutionMP", "maxRenderTimeMs", "cpu"],
  aci: ["maxUploadBytes", "maxResolutionMP", "cpu", "memoryInGB", "image", "location"],
};

/** ARM accepts "West Europe" and "westeurope" for the same region. */
const sameValue = (setting: DriftSetting, a: number | string, b: number | string): boolean =>
  setting === "location" && typeof a === "string" && typeof b === "string"
    ? a.replace(/\s+/g, "").toLowerCase() === b.replace(/\s+/g, "").toLowerCase()
    : a === b;

/**
 * The settings, in a stable order, in which `running` (the spec a backend was created with, from
 * the state) differs from `requested`. A setting the record does not carry (a state written by an
 * older aciimg) is unknown, not different, and is left out.
 */
export function specDrift(running: Partial<BackendSpec>, requested: BackendSpec, kind: ProviderKind): SettingDrift[] {
  const drift: SettingDrift[] = [];
  for (const setting of settingsOf[kind]) {
    const was = running[setting];
    const wanted = requested[setting];
    if (was === undefined || wanted === undefined || sameValue(setting, was, wanted)) continue;
    drift.push({ setting, running: was, requested: wanted });
  }
  return drift;
}
