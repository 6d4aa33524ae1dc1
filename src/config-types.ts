/**
 * The configuration's shape (what `loadConfig` in config.ts returns, and the overrides it takes),
 * each setting with its default.
 */
import type { ProviderKind } from "./engine/types.js";
import type { FailOn } from "./protocol/fail-on.js";

export interface AzureConfig {
  subscriptionId?: string;
  resourceGroup?: string;
  /**
   * Azure region for new container groups (`--location`, ACIIMG_LOCATION, AZURE_LOCATION).
   * @default "westeurope"
   */
  location: string;
  /**
   * ARM endpoint (AZURE_ARM_ENDPOINT, https only, never from a config file); for sovereign clouds.
   * @default "https://management.azure.com"
   */
  armEndpoint: string;
  /** Private registry server (e.g. myacr.azurecr.io). */
  registryServer?: string;
  registryUsername?: string;
  /** Only from the environment (ACIIMG_REGISTRY_PASSWORD): never a flag, never in the config file. */
  registryPassword?: string;
  /**
   * How long `create` may take end to end (from the lookup of a same-named group, once the Azure SDK is
   * loaded, to a healthy backend), in ms (`--timeout`, ACIIMG_CREATE_TIMEOUT).
   * @default 600000 (10 minutes)
   */
  createTimeoutMs: number;
  /**
   * LRO poll interval passed to the SDK (`updateIntervalInMs`), in ms (ACIIMG_POLL_INTERVAL).
   * @default 2000
   */
  pollIntervalMs: number;
  /**
   * SDK retries of a failed ARM request (429 with Retry-After,
   * 5xx, network), from ACIIMG_ARM_MAX_RETRIES.
   * @default 3 (the SDK's)
   */
  armMaxRetries?: number;
  /**
   * Base delay of the SDK's exponential retry, in ms, from ACIIMG_ARM_RETRY_DELAY (e.g. "1s", "10ms").
   * @default 1000 (the SDK's)
   */
  armRetryDelayMs?: number;
}

export interface ServeConfig {
  /**
   * Address `serve` listens on (`--host`, ACIIMG_SERVE_HOST).
   * @default "127.0.0.1"
   */
  host: string;
  /**
   * Port `serve` listens on (`--port`, ACIIMG_SERVE_PORT, PORT).
   * @default 8080
   */
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
  /**
   * Blob container of the state (ACIIMG_STATE_BLOB_CONTAINER).
   * @default "aciimg"
   */
  container: string;
  /** @default "state.json" */
  blobName: string;
}

export interface Config {
  /** The provider in use: flag, else `aci` when subscription and resource group are set, else `local`. */
  provider: ProviderKind;
  /**
   * Logical backend name, the state key (`--name`, ACIIMG_NAME).
   * @default "default"
   */
  name: string;
  /**
   * How many backends a batch may use (`--backends`, ACIIMG_BACKENDS, "backends"): a pool of up to
   * this many container groups on the aci provider, each billed on its own; at most
   * `maxBackends`. The local provider runs one backend (src/compose.ts refuses more).
   * @default 1
   */
  backends: number;
  /**
   * `process --with-local` (ACIIMG_WITH_LOCAL, "withLocal"): on aci, the built-in local backend
   * takes images while the pool's groups start, and works beside them.
   * @default false
   */
  withLocal: boolean;
  /**
   * JSON state file path (`--state`, ACIIMG_STATE; never from a config file).
   * @default "$XDG_STATE_HOME/aciimg/state.json" (~/.local/state/aciimg/state.json)
   */
  statePath: string;
  /** Blob state (Functions app); when a connection string or URL is set, blob state is used. */
  blob: BlobStateConfig;
  /**
   * Idle time, in ms, after which `reap` removes a backend and a local backend stops itself (`--idle`,
   * ACIIMG_IDLE).
   * @default 300000 (5 minutes)
   */
  idleMs: number;
  /**
   * How long one image request may wait for the backend's answer, and for each further piece of
   * it (`--request-timeout`, ACIIMG_REQUEST_TIMEOUT, "requestTimeout"), in ms. When it
   * runs out the request fails with E_REQUEST_TIMEOUT and is not sent again.
   * @default 120000 (2 minutes)
   */
  requestTimeoutMs: number;
  /**
   * The imaginary image ACI runs (`--image`, ACIIMG_IMAGE; never from a config file).
   * @default DEFAULT_IMAGE (config.ts)
   */
  image: string;
  /**
   * vCPUs of a container group (`--cpu`, ACIIMG_CPU); on the local provider, the backend's workers.
   * @default 1 on aci, the machine's available parallelism on local
   */
  cpu: number;
  /**
   * Memory of a container group, in GB (`--memory`, ACIIMG_MEMORY).
   * @default 1.5
   */
  memoryInGB: number;
  /**
   * Largest request body (and file) a backend takes, in bytes (`--max-size`, ACIIMG_MAX_SIZE).
   * @default 20000000 (20 MB)
   */
  maxUploadBytes: number;
  /**
   * Largest input resolution, in megapixels (`--max-resolution`, ACIIMG_MAX_RESOLUTION).
   * @default 18
   */
  maxResolutionMP: number;
  /**
   * The built-in backend's bound on one request's image work (ACIIMG_MAX_RENDER_TIME, config
   * "maxRenderTime", `aciimg backend --max-render-time`): past it the work is stopped and answered
   * 422 (src/backend/deadline.ts). 1 s to 1 h, in ms. imaginary (aci) has no such bound.
   * @default 60000 (60 seconds)
   */
  maxRenderTimeMs: number;
  /**
   * Send SVG inputs with filters (and what could hide them) to imaginary anyway: `--allow-svg-filters`
   * (process, serve) or ACIIMG_ALLOW_SVG_FILTERS (src/protocol/svg-screen.ts).
   * @default false
   */
  allowSvgFilters: boolean;
  /**
   * How much damage in an input's data stops `process` from decoding it (`--fail-on`,
   * ACIIMG_FAIL_ON, "failOn"): none, truncated, error or warning, sharp's levels. A JPEG with
   * bytes overwritten, or cut short and given an end marker, only warns, so it becomes a smeared or
   * grey-bottomed picture at any level below `warning`. The built-in backend alone reads it
   * (src/protocol/fail-on.ts).
   * @default "warning"
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
