/**
 * Configuration: flags > environment > config file (`aciimg.config.json` in the working directory,
 * or `--config`) > defaults (DESIGN.md §4). This is the only module that reads the environment;
 * callers pass `env` in (the CLI passes `process.env`, the Functions app its settings).
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { usageError } from "./errors.js";
import { azureConfigOf, blobStateOf } from "./config-azure.js";
import { readConfigFile } from "./config-file.js";
import { settingSources, str, type Env, type Sources } from "./config-sources.js";
import type { Config, ConfigOverrides, ServeConfig } from "./config-types.js";
import {
  backendCount,
  failOnLevel,
  port,
  positiveNumber,
  renderTime,
  requestTimeout,
  switchValue,
  type Setting,
} from "./config-values.js";
import type { ProviderKind } from "./engine/types.js";
import { parseBytes, parseDuration } from "./units.js";

export type { AzureConfig, BlobStateConfig, Config, ConfigOverrides, ServeConfig } from "./config-types.js";
export { maxBackends } from "./config-values.js";

/**
 * The imaginary image ACI runs by default: Nextcloud's aio-imaginary, maintained (rebuilt with current
 * Alpine/libvips, newer imaginary than the 2020 h2non/imaginary:1.2.4, which lacks -max-allowed-resolution;
 * docs/reference/imaginary-api.md §2.4), and its /start.sh takes the API key from the IMAGINARY_SECRET env
 * var, so the key never appears in the ARM-visible `command` (src/providers/aci/spec.ts).
 * From ghcr.io, not Docker Hub: ACI pulls from shared egress addresses, where Docker Hub's anonymous pull
 * limit shows up as RegistryErrorResponse; Nextcloud moved its AIO images to ghcr.io/nextcloud-releases for
 * that reason (nextcloud/all-in-one#6123). The tag is the one AIO's own helm chart pins:
 * nextcloud/all-in-one@4c998aff7325d91402e2b491eb95fa2de12c9252,
 * nextcloud-aio-helm-chart/templates/nextcloud-aio-imaginary-deployment.yaml. Pinned, because `latest`
 * would make starts unreproducible. `--image nextcloud/aio-imaginary:<tag>` still selects Docker Hub.
 */
export const DEFAULT_IMAGE = "ghcr.io/nextcloud-releases/aio-imaginary:20260609_115915";

/** How a person raises the request timeout, as E_REQUEST_TIMEOUT's message tells them (README "Configuration"). */
export const requestTimeoutAdvice =
  "If the image is this costly, raise the limit: " +
  '--request-timeout, ACIIMG_REQUEST_TIMEOUT or "requestTimeout" in the config file.';

/**
 * A backend name (`--name`, a state key): also what a local registry entry must carry to be read.
 * No `--` inside: a pool's members are named `<name>--<i>` (engine/pool-names.ts), so no name a
 * person picks can be another pool's member.
 */
export const backendNamePattern = /^(?!.*--)[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
/** `backendNamePattern` in words, for messages. */
export const backendNameRule =
  "1-32 lowercase letters, digits or '-', " +
  "not starting or ending with '-', no '--' (Azure's rule for container group names, " +
  "which get an aciimg- prefix)";

/**
 * A state key: a backend name, or a pool member's (`<name>--<i>`, `<name>--local`;
 * engine/pool-names.ts). What a local registry entry's name must be to be read.
 */
export function isStateKey(key: string): boolean {
  return stateKeyParts(key) !== undefined;
}

/** A state key's backend name and pool member (its index, or "local"); undefined for what is not a state key. */
export function stateKeyParts(key: string): { name: string; member?: number | "local" } | undefined {
  const [name = "", member, ...more] = key.split("--");
  if (more.length > 0 || !backendNamePattern.test(name)) return undefined;
  if (member === undefined) return { name };
  if (member === "local") return { name, member };
  return /^[1-9][0-9]?$/.test(member) ? { name, member: Number(member) } : undefined;
}

/** The default state file: $XDG_STATE_HOME/aciimg/state.json, else ~/.local/state/aciimg/state.json. */
export function defaultStatePath(env: Readonly<Record<string, string | undefined>>): string {
  const base =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(env.HOME || homedir(), ".local", "state");
  return join(base, "aciimg", "state.json");
}

export interface LoadConfigOptions {
  /** Told, as one sentence, why a config file found in the working directory was ignored (config-file.ts). */
  onWarning?: (message: string) => void;
}

/**
 * Resolves the configuration from flags, environment, config file and defaults. Settings are
 * parsed in the order of the result, which is the order bad values are reported in.
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: Env = {},
  cwd: string = ".",
  options: LoadConfigOptions = {},
): Config {
  const { configFile, file, hasFile } = configFileOf(overrides, env, cwd, options);
  const sources = settingSources(env, file, configFile);
  const subscriptionId = str(
    sources.pick(overrides.subscription, ["AZURE_SUBSCRIPTION_ID", "SUBSCRIPTION_ID"], "subscription"),
  );
  const resourceGroup = str(
    sources.pick(overrides.resourceGroup, ["AZURE_RESOURCE_GROUP", "RESOURCE_GROUP"], "resourceGroup"),
  );
  const provider = providerOf(overrides, sources, Boolean(subscriptionId && resourceGroup));
  return {
    provider,
    name: backendNameOf(overrides, sources),
    ...poolOf(overrides, sources),
    statePath: statePathOf(overrides, env, cwd, sources),
    blob: blobStateOf(env, sources),
    ...limitsOf(overrides, env, sources, provider),
    azure: azureConfigOf(overrides, env, sources, { subscriptionId, resourceGroup }),
    serve: serveConfigOf(overrides, env, cwd, sources),
    backendKey: env.ACIIMG_BACKEND_KEY || undefined,
    ...(env.ACIIMG_BACKEND_MOUNT_ROOT === "1" ? { backendMountRoot: true } : {}),
    configFile: hasFile ? configFile : undefined,
    env,
  };
}

/** The config file: `--config`, else ACIIMG_CONFIG, else aciimg.config.json in `cwd`, read if it is there. */
function configFileOf(overrides: ConfigOverrides, env: Env, cwd: string, options: LoadConfigOptions) {
  const explicitFile = overrides.config ?? env.ACIIMG_CONFIG;
  const configFile = resolve(cwd, explicitFile ?? "aciimg.config.json");
  const namedBy =
    overrides.config !== undefined ? "--config" : env.ACIIMG_CONFIG !== undefined ? "ACIIMG_CONFIG" : undefined;
  const file = readConfigFile(configFile, { namedBy, onWarning: options.onWarning });
  return { configFile, file, hasFile: Object.keys(file).length > 0 || explicitFile !== undefined };
}

/** local or aci; unset, aci when a subscription and resource group are given. */
function providerOf(overrides: ConfigOverrides, { setting }: Sources, hasAzureTarget: boolean): ProviderKind {
  const providerSetting = setting(overrides.provider, "--provider", ["ACIIMG_PROVIDER"], "provider");
  const providerValue = str(providerSetting?.value);
  if (providerValue === undefined) return hasAzureTarget ? "aci" : "local";
  if (providerValue === "local" || providerValue === "aci") return providerValue;
  throw usageError(providerSetting?.from ?? "--provider", "local or aci", providerValue);
}

function backendNameOf(overrides: ConfigOverrides, { setting }: Sources): string {
  const nameSetting = setting(overrides.name, "--name", ["ACIIMG_NAME"], "name");
  const name = str(nameSetting?.value) ?? "default";
  if (!backendNamePattern.test(name)) {
    // Stricter than ARM's container-group rule (src/providers/aci/names.ts), so every name that passes
    // gives its groups names ARM accepts; checked here, before any ARM call.
    throw usageError(nameSetting?.from ?? "--name", backendNameRule, name);
  }
  return name;
}

function poolOf(overrides: ConfigOverrides, { setting }: Sources): Pick<Config, "backends" | "withLocal"> {
  const backends = setting(overrides.backends, "--backends", ["ACIIMG_BACKENDS"], "backends");
  const withLocalFlag = overrides.withLocal === undefined ? undefined : String(overrides.withLocal);
  const withLocal = setting(withLocalFlag, "--with-local", ["ACIIMG_WITH_LOCAL"], "withLocal");
  return {
    backends: backends === undefined ? 1 : backendCount(backends.value, backends.from),
    withLocal: withLocal === undefined ? false : switchValue(withLocal.value, withLocal.from),
  };
}

function statePathOf(overrides: ConfigOverrides, env: Env, cwd: string, { pick }: Sources): string {
  const statePathValue = str(pick(overrides.state, ["ACIIMG_STATE"]));
  return statePathValue ? resolve(cwd, statePathValue) : defaultStatePath(env);
}

/** Idle time, timeouts, the backend's size and its limits, and what the batch accepts. */
type Limits = Pick<
  Config,
  | "idleMs"
  | "requestTimeoutMs"
  | "image"
  | "cpu"
  | "memoryInGB"
  | "maxUploadBytes"
  | "maxResolutionMP"
  | "maxRenderTimeMs"
  | "allowSvgFilters"
  | "failOn"
>;

function limitsOf(overrides: ConfigOverrides, env: Env, { setting, pick }: Sources, provider: ProviderKind): Limits {
  const idle = setting(overrides.idle, "--idle", ["ACIIMG_IDLE"], "idle");
  const requestTimeoutSetting = setting(
    overrides.requestTimeout,
    "--request-timeout",
    ["ACIIMG_REQUEST_TIMEOUT"],
    "requestTimeout",
  );
  const cpu = setting(overrides.cpu, "--cpu", ["ACIIMG_CPU"], "cpu");
  const memory = setting(overrides.memory, "--memory", ["ACIIMG_MEMORY"], "memory");
  const maxSize = setting(overrides.maxSize, "--max-size", ["ACIIMG_MAX_SIZE"], "maxSize");
  const maxResolution = setting(
    overrides.maxResolution,
    "--max-resolution",
    ["ACIIMG_MAX_RESOLUTION"],
    "maxResolution",
  );
  const maxRenderTime = setting(
    overrides.maxRenderTime,
    "--max-render-time",
    ["ACIIMG_MAX_RENDER_TIME"],
    "maxRenderTime",
  );
  const failOn = setting(overrides.failOn, "--fail-on", ["ACIIMG_FAIL_ON"], "failOn");
  return {
    idleMs: idle === undefined ? 5 * 60_000 : parseDuration(idle.value, idle.from),
    requestTimeoutMs:
      requestTimeoutSetting === undefined
        ? 2 * 60_000
        : requestTimeout(requestTimeoutSetting.value, requestTimeoutSetting.from),
    image: str(pick(overrides.image, ["ACIIMG_IMAGE"])) ?? DEFAULT_IMAGE,
    cpu:
      cpu === undefined
        ? provider === "local"
          ? availableParallelism()
          : 1
        : positiveNumber(cpu.value, cpu.from, "a positive number of vCPUs such as 1 or 2"),
    memoryInGB:
      memory === undefined ? 1.5 : positiveNumber(memory.value, memory.from, "a positive number of GB such as 1.5"),
    maxUploadBytes: maxSize === undefined ? 20 * 1000 * 1000 : parseBytes(maxSize.value, maxSize.from),
    maxResolutionMP:
      maxResolution === undefined
        ? 18
        : positiveNumber(maxResolution.value, maxResolution.from, "a positive number of megapixels such as 18"),
    maxRenderTimeMs: maxRenderTime === undefined ? 60_000 : renderTime(maxRenderTime),
    // Not from a config file: one planted in a working directory must not lower a protection.
    allowSvgFilters:
      overrides.allowSvgFilters === true ||
      (env.ACIIMG_ALLOW_SVG_FILTERS ? switchValue(env.ACIIMG_ALLOW_SVG_FILTERS, "ACIIMG_ALLOW_SVG_FILTERS") : false),
    failOn: failOn === undefined ? "warning" : failOnLevel(failOn),
  };
}

/** `aciimg serve`'s address, key and TLS files (relative paths from `cwd`). */
function serveConfigOf(overrides: ConfigOverrides, env: Env, cwd: string, { setting, pick }: Sources): ServeConfig {
  const servePort = setting(overrides.port, "--port", ["ACIIMG_SERVE_PORT", "PORT"], "port");
  const tlsFile = (value: Setting | undefined) =>
    value === undefined ? undefined : { path: resolve(cwd, String(value.value)), from: value.from };
  const tlsCert = tlsFile(setting(overrides.tlsCert, "--tls-cert", ["ACIIMG_SERVE_TLS_CERT"], "tlsCert"));
  const tlsKey = tlsFile(setting(overrides.tlsKey, "--tls-key", ["ACIIMG_SERVE_TLS_KEY"], "tlsKey"));
  return {
    host: str(pick(overrides.host, ["ACIIMG_SERVE_HOST"], "host")) ?? "127.0.0.1",
    port: servePort === undefined ? 8080 : port(servePort.value, servePort.from),
    key: overrides.key || env.ACIIMG_SERVE_KEY || undefined,
    ...(tlsCert ? { tlsCert } : {}),
    ...(tlsKey ? { tlsKey } : {}),
  };
}

/**
 * Whether SVG inputs are screened before they are sent (src/protocol/svg-screen.ts): on aci, whose
 * imaginary cannot stop a render, unless allowed. The built-in backend bounds its render time itself.
 */
export function screensSvg(config: Pick<Config, "provider" | "allowSvgFilters">): boolean {
  return config.provider === "aci" && !config.allowSvgFilters;
}

/** The backend spec the engine asks providers for, from the config. */
export function backendSpecOf(config: Config): import("./engine/types.js").BackendSpec {
  return {
    name: config.name,
    image: config.image,
    cpu: config.cpu,
    memoryInGB: config.memoryInGB,
    location: config.provider === "aci" ? config.azure.location : undefined,
    maxUploadBytes: config.maxUploadBytes,
    maxResolutionMP: config.maxResolutionMP,
    maxRenderTimeMs: config.maxRenderTimeMs,
  };
}

/** The process's environment: the one place aciimg reads `process.env` (surfaces call this, then pass it on). */
export function processEnvironment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
