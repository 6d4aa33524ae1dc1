/**
 * What every command needs: the configuration from the global flags (flags > env > file >
 * defaults, src/config.ts) and an engine that is closed afterwards. The engine's module is
 * imported on demand so `aciimg --help` loads neither providers nor SDKs.
 */
import { loadConfig, processEnvironment, type Config, type ConfigOverrides } from "../config.js";
import type { Engine } from "../engine/types.js";

/** The global flags every command accepts (registered in program.ts). */
export interface GlobalOptions {
  provider?: string;
  config?: string;
  state?: string;
  name?: string;
  json?: boolean;
  verbose?: boolean;
  subscription?: string;
  resourceGroup?: string;
  location?: string;
  image?: string;
  cpu?: string;
  memory?: string;
  registryServer?: string;
  registryUsername?: string;
  timeout?: string;
  requestTimeout?: string;
}

/** Maps global flags (plus command-specific ones) onto config overrides. */
export function overridesOf(options: GlobalOptions, extra: ConfigOverrides = {}): ConfigOverrides {
  return {
    config: options.config,
    provider: options.provider,
    name: options.name,
    state: options.state,
    subscription: options.subscription,
    resourceGroup: options.resourceGroup,
    location: options.location,
    image: options.image,
    cpu: options.cpu,
    memory: options.memory,
    registryServer: options.registryServer,
    registryUsername: options.registryUsername,
    timeout: options.timeout,
    requestTimeout: options.requestTimeout,
    ...extra,
  };
}

/** The configuration for this run. */
export function configOf(options: GlobalOptions, extra: ConfigOverrides = {}): Config {
  // An untrusted aciimg.config.json in the working directory is ignored with a warning on stderr
  // (never stdout, which holds the --json lines).
  return loadConfig(overridesOf(options, extra), processEnvironment(), process.cwd(), { onWarning: printWarning });
}

/**
 * Says what the config and the engine's parts warn about (compose.ts `warn`), as one `aciimg: warning:` line on stderr.
 */
export function printWarning(message: string): void {
  process.stderr.write(`aciimg: warning: ${message}\n`);
}

/** Opens an engine for `config`, runs `fn`, and always closes the engine. */
export async function withEngine<T>(config: Config, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const { openEngine } = await import("../compose.js");
  const engine = await openEngine(config, { warn: printWarning });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** Writes one JSON object as a line on stdout (the `--json` format). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * True when stderr is a terminal that can show a progress line. A pseudo-terminal with no width
 * (e.g. under `script` with no real terminal) makes ora's line arithmetic run away, so it is
 * treated as plain output.
 */
export function canShowProgress(): boolean {
  return process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
}
