/**
 * `aciimg backend` (internal): the built-in imaginary-compatible server, as the local provider runs
 * it. Its stdout is a protocol: exactly one line once listening,
 * `{"listening":{"host":…,"port":…,"url":…}}` (`url` is https:// with --tls-cert/--tls-key), or with
 * --socket `{"listening":{"socket":…,"url":"unix:…"}}`; everything else (access logs, TLS
 * handshake errors) goes to stderr. The key comes from ACIIMG_BACKEND_KEY (or --key for manual
 * use), never from a command line the provider writes.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { isAbsolute } from "node:path";
import { createSecureContext } from "node:tls";
import type { Command } from "commander";
import { systemClock } from "../../clock.js";
import type { Config } from "../../config.js";
import { waitUntilIdle, type BackendWork, type IdleStop } from "../../engine/idle-stop.js";
import { AciimgError, usageError } from "../../errors.js";
import { formatDuration, parseBytes, parseDuration } from "../../units.js";
import { configOf, printWarning, type GlobalOptions } from "../context.js";
import { parseInteger } from "../flags.js";
import { waitForStopSignal } from "../signals.js";

export interface BackendOptions {
  host: string;
  port: string;
  socket?: string;
  maxSize?: string;
  maxResolution?: string;
  maxRenderTime?: string;
  concurrency?: string;
  key?: string;
  tlsCert?: string;
  tlsKey?: string;
  mount?: string;
  idleExit?: string;
}

export async function runBackend(options: BackendOptions, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const { maxSize, maxResolution, maxRenderTime } = options;
  const config = configOf(globals, { maxSize, maxResolution, maxRenderTime });
  const apiKey = options.key ?? config.backendKey;
  if (!apiKey) throw new AciimgError("E_USAGE", "backend: no API key: set ACIIMG_BACKEND_KEY (or pass --key)");
  const port = parseInteger("--port", options.port, 0, 65535, "9000");
  if (isIP(options.host) === 0 && options.host !== "localhost")
    throw usageError("--host", "an IP address to listen on such as 127.0.0.1", options.host);
  if (options.socket !== undefined && !isAbsolute(options.socket))
    throw usageError("--socket", "an absolute path such as /run/user/1000/aciimg.sock", options.socket);
  const concurrency =
    options.concurrency === undefined ? undefined : parseInteger("--concurrency", options.concurrency, 1, 1024, "2");
  const tls = await readTls(options);
  const idleExit = await idleExitOf(options, config);
  const { startBackend } = await import("../../backend/server.js");
  const server = await startBackend({
    ...(tls ? { tls } : {}),
    apiKey,
    host: options.host,
    port,
    ...(options.socket === undefined ? {} : { socketPath: options.socket }),
    maxUploadBytes: options.maxSize === undefined ? config.maxUploadBytes : parseBytes(options.maxSize, "--max-size"),
    maxResolutionMP: config.maxResolutionMP,
    maxRenderTimeMs: config.maxRenderTimeMs,
    renderEnv: renderEnvironment(config.env),
    cpus: config.cpu,
    ...(concurrency === undefined ? {} : { concurrency }),
    ...mountOf(options.mount, config.backendMountRoot === true),
    ...(idleExit ? { onWork: idleExit.onWork } : {}),
    log: (line: string) => process.stderr.write(`${line}\n`),
  });
  const listening =
    options.socket === undefined
      ? { host: options.host, port: server.port, url: server.url }
      : { socket: options.socket, url: server.url };
  process.stdout.write(`${JSON.stringify({ listening })}\n`);
  const idle = idleExit?.stopped();
  // Cancelled below when a signal stops the backend first.
  idle?.catch(() => undefined);
  const stopped = await Promise.race(idle ? [waitForStopSignal(), idle] : [waitForStopSignal()]);
  idleExit?.cancel();
  if (stopped === "idle" || stopped === "orphan") {
    const idleFor = formatDuration(idleExit?.idleMs ?? 0);
    const record = stopped === "idle" ? "its record is removed from the state" : "no state records it";
    process.stderr.write(`stopping: idle for ${idleFor}; ${record}\n`);
  }
  await server.close();
  if (stopped === "idle" || stopped === "orphan") await idleExit?.forget();
  return 0;
}

/** `--idle-exit`: the server's work, counted, and the wait of engine/idle-stop.ts on it and the state. */
interface IdleExitWatch {
  idleMs: number;
  onWork: { start(): void; end(): void };
  /** Resolves when the backend should stop (its record already removed); rejects once cancelled. */
  stopped(): Promise<IdleStop>;
  cancel(): void;
  /** Removes its registry entry, socket and log (after the server closed). */
  forget(): Promise<void>;
}

/** The `--idle-exit` watch (the local provider's backends), or undefined without the flag. */
async function idleExitOf(options: BackendOptions, config: Config): Promise<IdleExitWatch | undefined> {
  if (options.idleExit === undefined) return undefined;
  const idleMs = parseDuration(options.idleExit, "--idle-exit");
  if (options.socket === undefined) {
    throw new AciimgError("E_USAGE", "backend: --idle-exit needs --socket (the local provider's backends)");
  }
  const { openLocalBackendSelf } = await import("../../compose.js");
  const self = await openLocalBackendSelf(config, options.socket, { warn: printWarning });
  const work: BackendWork = { inFlight: 0, lastEndedAt: undefined };
  const clock = systemClock;
  const startedAt = clock.now();
  const abort = new AbortController();
  return {
    idleMs,
    onWork: {
      start: () => void (work.inFlight += 1),
      end: () => {
        work.inFlight -= 1;
        work.lastEndedAt = clock.now();
      },
    },
    stopped: () =>
      waitUntilIdle({
        store: self.store,
        clock,
        idleMs,
        isSelf: self.isSelf,
        work: () => work,
        startedAt,
        orphanAfterMs: self.orphanAfterMs,
        signal: abort.signal,
        onError: (error) => process.stderr.write(`idle check failed, tried again later: ${(error as Error).message}\n`),
      }),
    cancel: () => abort.abort(),
    forget: self.forget,
  };
}

/** The SVG render processes' environment: ours without the key (they only ever see an image). */
function renderEnvironment(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const { ACIIMG_BACKEND_KEY: _key, ...rest } = env;
  return rest;
}

/** --mount, or `/` for the local provider's backend (ACIIMG_BACKEND_MOUNT_ROOT=1); not both. */
function mountOf(mount: string | undefined, mountRoot: boolean): { mount?: string; allowRootMount?: true } {
  if (!mountRoot) return mount === undefined ? {} : { mount };
  if (mount !== undefined)
    throw new AciimgError(
      "E_USAGE",
      "backend: --mount cannot be combined with ACIIMG_BACKEND_MOUNT_ROOT=1 (which mounts /); pass one of them",
    );
  return { mount: "/", allowRootMount: true };
}

/** Reads --tls-cert/--tls-key (both or neither) and checks that they load as a certificate and its key. */
async function readTls(options: BackendOptions): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (options.tlsCert === undefined && options.tlsKey === undefined) return undefined;
  if (options.tlsCert === undefined || options.tlsKey === undefined) {
    const missing = options.tlsCert === undefined ? "--tls-cert" : "--tls-key";
    throw new AciimgError(
      "E_USAGE",
      `backend: ${missing} is required with ${missing === "--tls-cert" ? "--tls-key" : "--tls-cert"}: ` +
        `pass both to serve HTTPS, or neither`,
    );
  }
  const read = async (flag: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new AciimgError(
        "E_USAGE",
        `${flag}: cannot read ${JSON.stringify(file)} ` +
          `(${(error as NodeJS.ErrnoException).code ?? String(error)}); expected a PEM file`,
        { cause: error },
      );
    }
  };
  const cert = await read("--tls-cert", options.tlsCert);
  const key = await read("--tls-key", options.tlsKey);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    // OpenSSL's message names the problem (bad PEM, key not matching the certificate); never the key itself.
    throw new AciimgError(
      "E_USAGE",
      `--tls-cert/--tls-key: ${JSON.stringify(options.tlsCert)} and ${JSON.stringify(options.tlsKey)} ` +
        `are not a PEM certificate and its private key (${(error as Error).message})`,
      { cause: error },
    );
  }
  return { cert, key };
}
