/**
 * Configuration: flags > environment > config file (`aciimg.config.json` in the working directory,
 * or `--config`) > defaults (DESIGN.md §4). This is the only module that reads the environment;
 * callers pass `env` in (the CLI passes `process.env`, the Functions app its settings).
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { AciimgError, usageError } from "./errors.js";
import { readConfigFile, type FileConfig } from "./config-file.js";
import type { ProviderKind } from "./engine/types.js";
import { parseBytes, parseDuration } from "./units.js";
import { failOnLevels, isFailOn, type FailOn } from "./imaginary/fail-on.js";

/**
 * The imaginary image ACI runs by default: Nextcloud's aio-imaginary, maintained (rebuilt with current
 * Alpine/libvips, newer imaginary than the 2020 h2non/imaginary:1.2.4, which lacks -max-allowed-resolution;
 * docs/reference/imaginary-api.md §2.4), and its /start.sh takes the API key from the IMAGINARY_SECRET env var, so
 * the key never appears in the ARM-visible `command` (src/providers/aci-spec.ts).
 * From ghcr.io, not Docker Hub: ACI pulls from shared egress addresses, where Docker Hub's anonymous pull
 * limit shows up as RegistryErrorResponse; Nextcloud moved its AIO images to ghcr.io/nextcloud-releases for
 * that reason (nextcloud/all-in-one#6123). The tag is the one AIO's own helm chart pins:
 * nextcloud/all-in-one@4c998aff7325d91402e2b491eb95fa2de12c9252,
 * nextcloud-aio-helm-chart/templates/nextcloud-aio-imaginary-deployment.yaml. Pinned, because `latest`
 * would make starts unreproducible. `--image nextcloud/aio-imaginary:<tag>` still selects Docker Hub.
 */
export const DEFAULT_IMAGE = "ghcr.io/nextcloud-releases/aio-imaginary:20260609_115915";

export interface AzureConfig {
  subscriptionId?: string;
  resourceGroup?: string;
  /** Azure region for new container groups. Default westeurope. */
  location: string;
  /** ARM endpoint; override for sovereign clouds (and the ARM simulator). Default https://management.azure.com. */
  armEndpoint: string;
  /** Private registry server (e.g. myacr.azurecr.io). */
  registryServer?: string;
  registryUsername?: string;
  /** Only from the environment (ACIIMG_REGISTRY_PASSWORD): never a flag, never in the config file. */
  registryPassword?: string;
  /** How long `create` may take end to end. Default 10 min. */
  createTimeoutMs: number;
  /** LRO poll interval passed to the SDK (`updateIntervalInMs`). Default 2000. */
  pollIntervalMs: number;
  /** SDK retries of a failed ARM request (429 with Retry-After, 5xx, network), from ACIIMG_ARM_MAX_RETRIES. SDK default 3. */
  armMaxRetries?: number;
  /** Base delay of the SDK's exponential retry, from ACIIMG_ARM_RETRY_DELAY (e.g. "1s", "10ms"). SDK default 1s. */
  armRetryDelayMs?: number;
}

export interface ServeConfig {
  host: string;
  port: number;
  /** API key clients of `aciimg serve` / the Functions app must send. */
  key?: string;
  /** PEM certificate `serve` presents over HTTPS (with `tlsKey`), and the setting that named it. */
  tlsCert?: { path: string; from: string };
  /** The certificate's PEM private key. */
  tlsKey?: { path: string; from: string };
}

export interface BlobStateConfig {
  /** Connection string (AzureWebJobsStorage style) for the blob state. */
  connectionString?: string;
  /** Or a container URL (with SAS, or used with DefaultAzureCredential). */
  containerUrl?: string;
  container: string;
  blobName: string;
}

export interface Config {
  /** The provider in use: flag, else `aci` when subscription and resource group are set, else `local`. */
  provider: ProviderKind;
  /** Logical backend name (state key). Default "default". */
  name: string;
  /**
   * How many backends a batch may use (`--backends`, ACIIMG_BACKENDS, "backends"): a pool of up to
   * this many container groups on the aci provider, each billed on its own. Default 1; at most
   * `maxBackends`. The local provider runs one backend (src/compose.ts refuses more).
   */
  backends: number;
  /**
   * `process --with-local` (ACIIMG_WITH_LOCAL, "withLocal"): on aci, the built-in local backend
   * takes images while the pool's groups start, and works beside them. Default false.
   */
  withLocal: boolean;
  /** JSON state file path (file state). */
  statePath: string;
  /** Blob state (Functions app); when a connection string or URL is set, blob state is used. */
  blob: BlobStateConfig;
  /** Idle time after which `reap` removes a backend. Default 5 min. */
  idleMs: number;
  /**
   * How long one image request may wait for the backend's answer, and for each further piece of
   * it (`--request-timeout`, ACIIMG_REQUEST_TIMEOUT, "requestTimeout"). Default 2 min. When it
   * runs out the request fails with E_REQUEST_TIMEOUT and is not sent again.
   */
  requestTimeoutMs: number;
  image: string;
  cpu: number;
  memoryInGB: number;
  maxUploadBytes: number;
  maxResolutionMP: number;
  /**
   * The built-in backend's bound on one request's image work (ACIIMG_MAX_RENDER_TIME, config
   * "maxRenderTime", `aciimg backend --max-render-time`): past it the work is stopped and answered
   * 422 (src/backend/deadline.ts). 1 s to 1 h; default 60 s. imaginary (aci) has no such bound.
   */
  maxRenderTimeMs: number;
  /**
   * Send SVG inputs with filters (and what could hide them) to imaginary anyway: `--allow-svg-filters`
   * (process, serve) or ACIIMG_ALLOW_SVG_FILTERS. Default false (src/imaginary/svg-screen.ts).
   */
  allowSvgFilters: boolean;
  /**
   * How much damage in an input's data stops `process` from decoding it (`--fail-on`,
   * ACIIMG_FAIL_ON, "failOn"): none, truncated, error or warning, sharp's levels. Default warning:
   * a JPEG with bytes overwritten or cut short and given an end marker only warns, and becomes a
   * smeared or grey-bottomed picture at any lower level. The built-in backend alone reads it
   * (src/imaginary/fail-on.ts).
   */
  failOn: FailOn;
  azure: AzureConfig;
  serve: ServeConfig;
  /**
   * Key the built-in backend (`aciimg backend`) requires, from ACIIMG_BACKEND_KEY (or `--key`).
   * The local provider passes it through the environment, never on the command line.
   */
  backendKey?: string;
  /**
   * `aciimg backend` mounts `/` as its file source, from ACIIMG_BACKEND_MOUNT_ROOT=1: set only by
   * the local provider for its own backend (src/providers/local.ts `fileSource`).
   */
  backendMountRoot?: boolean;
  /** Where this config came from, for messages. */
  configFile?: string;
  /** The environment the config was read from, handed to child processes (local backend). */
  env: Readonly<Record<string, string | undefined>>;
}

/** Values a surface passes from its flags; undefined means "not given". */
export interface ConfigOverrides {
  config?: string;
  provider?: string;
  name?: string;
  state?: string;
  idle?: string;
  image?: string;
  cpu?: string | number;
  memory?: string | number;
  location?: string;
  subscription?: string;
  resourceGroup?: string;
  registryServer?: string;
  registryUsername?: string;
  timeout?: string;
  requestTimeout?: string;
  maxSize?: string;
  maxResolution?: string | number;
  maxRenderTime?: string;
  host?: string;
  port?: string | number;
  key?: string;
  tlsCert?: string;
  tlsKey?: string;
  backends?: string | number;
  withLocal?: string | boolean;
  allowSvgFilters?: boolean;
  failOn?: string;
}

function positiveNumber(value: string | number, what: string, expected: string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0 || (typeof value === "string" && value.trim() === "")) throw usageError(what, expected, value);
  return n;
}

function port(value: string | number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(what, "a port number from 0 to 65535", value);
  return n;
}

/** The longest request timeout: Node's timers hold at most 2^31-1 ms (~24.8 days), and a day is already generous. */
const maxRequestTimeoutMs = 24 * 3_600_000;

function requestTimeout(value: string | number, what: string): number {
  const ms = parseDuration(value, what);
  if (ms <= 0 || ms > maxRequestTimeoutMs) {
    throw usageError(what, "a duration above 0 and at most 24h, such as 90s, 5m or 1h", value);
  }
  return ms;
}

/** 1 s to 1 h: sharp's timeout counts whole seconds up to an hour (src/backend/deadline.ts). */
function renderTime(value: Setting): number {
  const ms = parseDuration(value.value, value.from);
  if (ms < 1000 || ms > 3_600_000) {
    throw usageError(value.from, "a duration from 1s to 1h such as 60s or 5m", value.value);
  }
  return ms;
}

function failOnLevel(value: Setting): FailOn {
  const level = String(value.value);
  if (!isFailOn(level)) throw usageError(value.from, failOnLevels.join(", ").replace(/, (\w+)$/, " or $1"), level);
  return level;
}

/** How a person raises the request timeout, as E_REQUEST_TIMEOUT's message tells them (docs/configuration.md). */
export const requestTimeoutAdvice =
  "If the image is this costly, raise the limit: " +
  '--request-timeout, ACIIMG_REQUEST_TIMEOUT or "requestTimeout" in the config file.';

function armRetries(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10) throw usageError("ACIIMG_ARM_MAX_RETRIES", "an integer from 0 to 10", value);
  return n;
}

/**
 * A backend name (`--name`, a state key): also what a local registry entry must carry to be read.
 * No `--` inside: a pool's members are named `<name>--<i>` (engine/pool-names.ts), so no name a
 * person picks can be another pool's member.
 */
export const backendNamePattern = /^(?!.*--)[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
/** `backendNamePattern` in words, for messages. */
export const backendNameRule =
  "1-32 lowercase letters, digits or '-', not starting or ending with '-', no '--' (Azure's rule for container group names, " +
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

/**
 * The largest pool (`--backends`): ACI allows 100 cores and 300 creates an hour per region by
 * default (docs/reference/arm-notes.md), and each member is billed on its own; a typo of 100 must not start 100.
 */
export const maxBackends = 20;

function backendCount(value: string | number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > maxBackends || (typeof value === "string" && value.trim() === "")) {
    throw usageError(what, `a whole number of backends from 1 to ${maxBackends}`, value);
  }
  return n;
}

function switchValue(value: string | number | boolean, what: string): boolean {
  const text = String(value).toLowerCase();
  if (text === "true" || text === "1" || text === "yes") return true;
  if (text === "false" || text === "0" || text === "no") return false;
  throw usageError(what, "true or false", String(value));
}

/** The default state file: $XDG_STATE_HOME/aciimg/state.json, else ~/.local/state/aciimg/state.json. */
export function defaultStatePath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), ".local", "state");
  return join(base, "aciimg", "state.json");
}

/** A setting as text. */
const str = (v: string | number | undefined): string | undefined => (v === undefined ? undefined : String(v));

/** Where one setting came from: its value, and the flag, variable or file key that set it (for messages). */
type Setting = { value: string | number; from: string };

/**
 * flag > env (first non-empty of the names) > file > undefined, with where the value came from:
 * a bad value's message names what the person set (ACIIMG_MAX_SIZE, "maxSize" in the file), not
 * a flag the command they ran may not have.
 */
function settingSources(env: Readonly<Record<string, string | undefined>>, file: FileConfig, configFile: string) {
  // No file key: a setting the file may not give (config-file.ts `flagOrEnvOnly`).
  const setting = (flag: string | number | undefined, flagName: string, envNames: string[], fileKey?: keyof FileConfig): Setting | undefined => {
    if (flag !== undefined && flag !== "") return { value: flag, from: flagName };
    for (const name of envNames) {
      const value = env[name];
      if (value !== undefined && value !== "") return { value, from: name };
    }
    const value = fileKey === undefined ? undefined : file[fileKey];
    return value === undefined ? undefined : { value, from: `"${fileKey}" in ${configFile}` };
  };
  const pick = (flag: string | number | undefined, envNames: string[], fileKey?: keyof FileConfig): string | number | undefined =>
    setting(flag, "", envNames, fileKey)?.value;
  return { setting, pick };
}

export interface LoadConfigOptions {
  /** Told, as one sentence, why a config file found in the working directory was ignored (config-file.ts). */
  onWarning?: (message: string) => void;
}

/**
 * Resolves the configuration from flags, environment, config file and defaults. (Long for its one
 * result literal: settings are parsed in its order, which is the order bad values are reported in.)
 */
export function loadConfig(
  overrides: ConfigOverrides = {},
  env: Readonly<Record<string, string | undefined>> = {},
  cwd: string = ".",
  options: LoadConfigOptions = {},
): Config {
  const explicitFile = overrides.config ?? env.ACIIMG_CONFIG;
  const configFile = resolve(cwd, explicitFile ?? "aciimg.config.json");
  const namedBy = overrides.config !== undefined ? "--config" : env.ACIIMG_CONFIG !== undefined ? "ACIIMG_CONFIG" : undefined;
  const file = readConfigFile(configFile, { namedBy, onWarning: options.onWarning });
  const hasFile = Object.keys(file).length > 0 || explicitFile !== undefined;

  const { setting, pick } = settingSources(env, file, configFile);

  const subscriptionId = str(pick(overrides.subscription, ["AZURE_SUBSCRIPTION_ID", "SUBSCRIPTION_ID"], "subscription"));
  const resourceGroup = str(pick(overrides.resourceGroup, ["AZURE_RESOURCE_GROUP", "RESOURCE_GROUP"], "resourceGroup"));

  const providerSetting = setting(overrides.provider, "--provider", ["ACIIMG_PROVIDER"], "provider");
  const providerValue = str(providerSetting?.value);
  let provider: ProviderKind;
  if (providerValue === undefined) provider = subscriptionId && resourceGroup ? "aci" : "local";
  else if (providerValue === "local" || providerValue === "aci") provider = providerValue;
  else throw usageError(providerSetting?.from ?? "--provider", "local or aci", providerValue);

  const nameSetting = setting(overrides.name, "--name", ["ACIIMG_NAME"], "name");
  const name = str(nameSetting?.value) ?? "default";
  if (!backendNamePattern.test(name)) {
    // Stricter than ARM's container-group rule (providers/aci-names.ts), so every name that passes
    // gives its groups names ARM accepts; checked here, before any ARM call.
    throw usageError(nameSetting?.from ?? "--name", backendNameRule, name);
  }
  const backends = setting(overrides.backends, "--backends", ["ACIIMG_BACKENDS"], "backends");
  const withLocal = setting(overrides.withLocal === undefined ? undefined : String(overrides.withLocal), "--with-local", ["ACIIMG_WITH_LOCAL"], "withLocal");

  const statePathValue = str(pick(overrides.state, ["ACIIMG_STATE"]));
  const idle = setting(overrides.idle, "--idle", ["ACIIMG_IDLE"], "idle");
  // Looked up here, parsed in the result below: a bad value is reported in the order settings are parsed.
  const timeout = setting(overrides.timeout, "--timeout", ["ACIIMG_CREATE_TIMEOUT"], "timeout");
  const requestTimeoutSetting =
    setting(overrides.requestTimeout, "--request-timeout", ["ACIIMG_REQUEST_TIMEOUT"], "requestTimeout");
  const pollInterval = setting(undefined, "", ["ACIIMG_POLL_INTERVAL"], "pollInterval");
  const cpu = setting(overrides.cpu, "--cpu", ["ACIIMG_CPU"], "cpu");
  const memory = setting(overrides.memory, "--memory", ["ACIIMG_MEMORY"], "memory");
  const maxSize = setting(overrides.maxSize, "--max-size", ["ACIIMG_MAX_SIZE"], "maxSize");
  const maxResolution = setting(overrides.maxResolution, "--max-resolution", ["ACIIMG_MAX_RESOLUTION"], "maxResolution");
  const maxRenderTime = setting(overrides.maxRenderTime, "--max-render-time", ["ACIIMG_MAX_RENDER_TIME"],
    "maxRenderTime");
  const failOn = setting(overrides.failOn, "--fail-on", ["ACIIMG_FAIL_ON"], "failOn");
  const servePort = setting(overrides.port, "--port", ["ACIIMG_SERVE_PORT", "PORT"], "port");
  const tlsFile = (value: Setting | undefined) =>
    value === undefined ? undefined : { path: resolve(cwd, String(value.value)), from: value.from };
  const tlsCert = tlsFile(setting(overrides.tlsCert, "--tls-cert", ["ACIIMG_SERVE_TLS_CERT"], "tlsCert"));
  const tlsKey = tlsFile(setting(overrides.tlsKey, "--tls-key", ["ACIIMG_SERVE_TLS_KEY"], "tlsKey"));

  return {
    provider,
    name,
    backends: backends === undefined ? 1 : backendCount(backends.value, backends.from),
    withLocal: withLocal === undefined ? false : switchValue(withLocal.value, withLocal.from),
    statePath: statePathValue ? resolve(cwd, statePathValue) : defaultStatePath(env),
    blob: {
      // An explicit ACIIMG_STATE_BLOB_URL (the state's own container, reached by the managed
      // identity) wins over the host's AzureWebJobsStorage, which a Functions app always has.
      connectionString: env.ACIIMG_STATE_BLOB_CONNECTION_STRING || (env.ACIIMG_STATE_BLOB_URL ? undefined : env.AzureWebJobsStorage) || undefined,
      containerUrl: env.ACIIMG_STATE_BLOB_URL || undefined,
      container: str(pick(undefined, ["ACIIMG_STATE_BLOB_CONTAINER"], "blobContainer")) ?? "aciimg",
      blobName: "state.json",
    },
    idleMs: idle === undefined ? 5 * 60_000 : parseDuration(idle.value, idle.from),
    requestTimeoutMs: requestTimeoutSetting === undefined
      ? 2 * 60_000
      : requestTimeout(requestTimeoutSetting.value, requestTimeoutSetting.from),
    image: str(pick(overrides.image, ["ACIIMG_IMAGE"])) ?? DEFAULT_IMAGE,
    cpu: cpu === undefined ? (provider === "local" ? availableParallelism() : 1) : positiveNumber(cpu.value, cpu.from, "a positive number of vCPUs such as 1 or 2"),
    memoryInGB: memory === undefined ? 1.5 : positiveNumber(memory.value, memory.from, "a positive number of GB such as 1.5"),
    maxUploadBytes: maxSize === undefined ? 20 * 1000 * 1000 : parseBytes(maxSize.value, maxSize.from),
    maxResolutionMP: maxResolution === undefined ? 18 : positiveNumber(maxResolution.value, maxResolution.from, "a positive number of megapixels such as 18"),
    maxRenderTimeMs: maxRenderTime === undefined ? 60_000 : renderTime(maxRenderTime),
    // Not from a config file: one planted in a working directory must not lower a protection.
    allowSvgFilters: overrides.allowSvgFilters === true ||
      (env.ACIIMG_ALLOW_SVG_FILTERS ? switchValue(env.ACIIMG_ALLOW_SVG_FILTERS, "ACIIMG_ALLOW_SVG_FILTERS") : false),
    failOn: failOn === undefined ? "warning" : failOnLevel(failOn),
    azure: azureConfigOf(overrides, env, { setting, pick }, { subscriptionId, resourceGroup, timeout, pollInterval }),
    serve: {
      host: str(pick(overrides.host, ["ACIIMG_SERVE_HOST"], "host")) ?? "127.0.0.1",
      port: servePort === undefined ? 8080 : port(servePort.value, servePort.from),
      key: overrides.key || env.ACIIMG_SERVE_KEY || undefined,
      ...(tlsCert ? { tlsCert } : {}),
      ...(tlsKey ? { tlsKey } : {}),
    },
    backendKey: env.ACIIMG_BACKEND_KEY || undefined,
    ...(env.ACIIMG_BACKEND_MOUNT_ROOT === "1" ? { backendMountRoot: true } : {}),
    configFile: hasFile ? configFile : undefined,
    env,
  };
}

/** The Azure settings (aci provider, ARM access). */
function azureConfigOf(
  overrides: ConfigOverrides,
  env: Readonly<Record<string, string | undefined>>,
  sources: ReturnType<typeof settingSources>,
  found: { subscriptionId: string | undefined; resourceGroup: string | undefined; timeout: Setting | undefined; pollInterval: Setting | undefined },
): AzureConfig {
  const { subscriptionId, resourceGroup, timeout, pollInterval } = found;
  const { setting, pick } = sources;
  return {
    subscriptionId,
    resourceGroup,
    location: str(pick(overrides.location, ["ACIIMG_LOCATION", "AZURE_LOCATION"], "location")) ?? "westeurope",
    armEndpoint: armEndpointOf(setting(undefined, "", ["AZURE_ARM_ENDPOINT"])),
    registryServer: str(pick(overrides.registryServer, ["ACIIMG_REGISTRY_SERVER"])),
    registryUsername: str(pick(overrides.registryUsername, ["ACIIMG_REGISTRY_USERNAME"], "registryUsername")),
    registryPassword: env.ACIIMG_REGISTRY_PASSWORD || undefined,
    createTimeoutMs: timeout === undefined ? 10 * 60_000 : parseDuration(timeout.value, timeout.from),
    pollIntervalMs: pollInterval === undefined ? 2000 : parseDuration(pollInterval.value, pollInterval.from),
    armMaxRetries: env.ACIIMG_ARM_MAX_RETRIES ? armRetries(env.ACIIMG_ARM_MAX_RETRIES) : undefined,
    armRetryDelayMs: env.ACIIMG_ARM_RETRY_DELAY ? parseDuration(env.ACIIMG_ARM_RETRY_DELAY, "ACIIMG_ARM_RETRY_DELAY") : undefined,
  };
}

/**
 * The ARM endpoint: https only, as a bare origin, since the SDK sends the Azure bearer token to it
 * (an http:// one would hand the token to anyone on the path). Default https://management.azure.com.
 */
function armEndpointOf(value: Setting | undefined): string {
  if (value === undefined) return "https://management.azure.com";
  const expected = "an https:// URL such as https://management.usgovcloudapi.net";
  let url: URL;
  try {
    url = new URL(String(value.value));
  } catch {
    throw usageError(value.from, expected, value.value);
  }
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw usageError(value.from, expected, value.value);
  }
  return String(value.value).replace(/\/+$/, "");
}

/**
 * Whether SVG inputs are screened before they are sent (src/imaginary/svg-screen.ts): on aci, whose
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
