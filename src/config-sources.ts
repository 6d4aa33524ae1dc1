/**
 * Where one setting's value comes from: flag > environment (the first non-empty of its names) >
 * config file (DESIGN.md §4), with the name the person set it by, for messages.
 */
import type { FileConfig } from "./config-file.js";
import type { Setting } from "./config-values.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** A setting as text. */
export const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/**
 * flag > env (first non-empty of the names) > file > undefined, with where the value came from:
 * a bad value's message names what the person set (ACIIMG_MAX_SIZE, "maxSize" in the file), not
 * a flag the command they ran may not have.
 */
export function settingSources(env: Env, file: FileConfig, configFile: string) {
  // No file key: a setting the file may not give (config-file.ts `flagOrEnvOnly`).
  const setting = (
    flag: string | number | undefined,
    flagName: string,
    envNames: string[],
    fileKey?: keyof FileConfig,
  ): Setting | undefined => {
    if (flag !== undefined && flag !== "") return { value: flag, from: flagName };
    for (const name of envNames) {
      const value = env[name];
      if (value !== undefined && value !== "") return { value, from: name };
    }
    const value = fileKey === undefined ? undefined : file[fileKey];
    return value === undefined ? undefined : { value, from: `"${fileKey}" in ${configFile}` };
  };
  const pick = (
    flag: string | number | undefined,
    envNames: string[],
    fileKey?: keyof FileConfig,
  ): string | number | undefined => setting(flag, "", envNames, fileKey)?.value;
  return { setting, pick };
}

export type Sources = ReturnType<typeof settingSources>;
