/**
 * The configuration's shape (what `loadConfig` in config.ts returns, and the overrides it takes),
 * each setting with its default.
 */
import type { ProviderKind } from "./engine/types.js";
import type { FailOn } from "./protocol/fail-on.js";

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
  /**
   * SDK retries of a failed ARM request (429 with Retry-After,
   * 5xx, network), from ACIIMG_ARM_MAX_RETRIES. SDK default 3.
   */
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
   * (process, serve) or ACIIMG_ALLOW_SVG_FILTERS. Default false (src/protocol/svg-screen.ts).
   */
  allowSvgFilters: boolean;
  /**
   * How much damage in an input's data stops `process` from decoding it (`--fail-on`,
   * ACIIMG_FAIL_ON, "failOn"): none, truncated, error or warning, sharp's levels. Default warning:
   * a JPEG with bytes overwritten or cut short and given an end marker only warns, and becomes a
   * smeared or grey-bottomed picture at any lower level. The built-in backend alone reads it
   * (src/protocol/fail-on.ts).
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
   * the local provider for its own backend (src/providers/local/local.ts `fileSource`).
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
