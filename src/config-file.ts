/** The config file (`aciimg.config.json` or `--config`): a flat JSON object of known keys. */
import { readFileSync } from "node:fs";
import type { ConfigOverrides } from "./config.js";
import { AciimgError } from "./errors.js";

/** The config file's accepted keys (camelCase), all optional. */
export type FileConfig = Partial<Record<keyof ConfigOverrides | "pollInterval" | "armEndpoint" | "blobContainer", string | number>>;

const fileKeys = new Set<string>([
  "provider", "name", "state", "idle", "image", "cpu", "memory", "location", "subscription", "resourceGroup",
  "registryServer", "registryUsername", "timeout", "maxSize", "maxResolution", "maxRenderTime", "host", "port",
  "pollInterval", "armEndpoint", "blobContainer", "tlsCert", "tlsKey", "backends", "withLocal",
]);

/** Keys that are switches: `true`/`false` in the file, kept as the text a flag or variable would give. */
const switchKeys = new Set<string>(["withLocal"]);

/** The config file at `path` as flat keys, each checked known and a string or number; `{}` when it is absent and not `required`. */
export function readConfigFile(path: string, required: boolean): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new AciimgError("E_USAGE", `cannot read config file ${path}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AciimgError("E_USAGE", `config file ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new AciimgError("E_USAGE", `config file ${path} must hold a JSON object`);
  }
  const out: FileConfig = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!fileKeys.has(key)) {
      throw new AciimgError("E_USAGE", `config file ${path}: unknown key "${key}" (known: ${[...fileKeys].join(", ")})`);
    }
    if (switchKeys.has(key) && typeof value === "boolean") {
      (out as Record<string, string | number>)[key] = String(value);
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number") {
      throw new AciimgError("E_USAGE", `config file ${path}: "${key}" must be a string or number`);
    }
    (out as Record<string, string | number>)[key] = value;
  }
  return out;
}
