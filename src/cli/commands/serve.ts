/** `aciimg serve`: the imaginary-style HTTP surface on this machine, proxying to an on-demand backend. */
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { Command } from "commander";
import { screensSvg, type ServeConfig } from "../../config.js";
import { AciimgError } from "../../errors.js";
import { checkServeKey } from "../../http/exposure.js";
import { warnDrift } from "../backend-settings.js";
import { configOf, printWarning, type GlobalOptions } from "../context.js";
import { waitForStopSignal } from "../signals.js";

export interface ServeOptions {
  port?: string;
  host?: string;
  key?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowSvgFilters?: boolean;
}

export async function runServe(options: ServeOptions, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals, {
    port: options.port,
    host: options.host,
    key: options.key,
    tlsCert: options.tlsCert,
    tlsKey: options.tlsKey,
    allowSvgFilters: options.allowSvgFilters,
  });
  // Checked before the engine opens: `serve` never runs open, nor with a guessable key (src/http/exposure.ts).
  const key = checkServeKey(config.serve.key);
  const tls = await readTls(config.serve);
  const [{ openEngine }, { startHttpServer }] = await Promise.all([
    import("../../compose.js"),
    import("../../http/server.js"),
  ]);
  const engine = await openEngine(config, { warn: printWarning });
  // Listening for SIGTERM/SIGINT before saying "listening": a supervisor (or a test) that stops
  // the server as soon as it reads that line must get a clean close and exit 0, not Node's default.
  const stopped = waitForStopSignal();
  try {
    const server = await startHttpServer({
      engine,
      host: config.serve.host,
      port: config.serve.port,
      key,
      ...(tls ? { tls } : {}),
      maxUploadBytes: config.maxUploadBytes,
      screenSvg: screensSvg(config),
      // The local provider's backend is the built-in one: AVIF and aciimg's encoder params reach it.
      dialect: config.provider === "local" ? "built-in" : "imaginary",
      log: (line: string) => process.stderr.write(`${line}\n`),
    });
    // Requests go to the backend already running, with the settings it was started with (its
    // upload limit may be below this server's): say so now rather than with the first 413. A state
    // that cannot be read here is the first request's error to report, not a reason not to start.
    warnDrift({ provider: config.provider, name: config.name }, await engine.drift().catch(() => []), "serve");
    process.stderr.write(
      `aciimg serve listening on ${server.url} (${config.provider} provider; clients send the API-Key header)\n`,
    );
    await stopped;
    await server.close();
    return 0;
  } finally {
    await engine.close();
  }
}

/**
 * Reads the certificate and key once, at start (both or neither), and checks that they load as a
 * certificate and its key; a bad one is E_USAGE naming the setting that gave it.
 */
async function readTls(serve: ServeConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  const { tlsCert, tlsKey } = serve;
  if (tlsCert === undefined && tlsKey === undefined) return undefined;
  if (tlsCert === undefined || tlsKey === undefined) {
    const [given, missing] =
      tlsCert === undefined
        ? [tlsKey?.from, "--tls-cert (ACIIMG_SERVE_TLS_CERT)"]
        : [tlsCert.from, "--tls-key (ACIIMG_SERVE_TLS_KEY)"];
    throw new AciimgError(
      "E_USAGE",
      `serve: ${given} is set but ${missing} is not: pass both to serve HTTPS, or neither`,
    );
  }
  const read = async (file: { path: string; from: string }): Promise<Buffer> => {
    try {
      return await readFile(file.path);
    } catch (error) {
      throw new AciimgError(
        "E_USAGE",
        `${file.from}: cannot read ${JSON.stringify(file.path)} ` +
          `(${(error as NodeJS.ErrnoException).code ?? String(error)}); expected a PEM file`,
        { cause: error },
      );
    }
  };
  const cert = await read(tlsCert);
  const key = await read(tlsKey);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    // OpenSSL's message names the problem (bad PEM, key not matching the certificate); never the key itself.
    throw new AciimgError(
      "E_USAGE",
      `${tlsCert.from}/${tlsKey.from}: ${JSON.stringify(tlsCert.path)} and ${JSON.stringify(tlsKey.path)} ` +
        `are not a PEM certificate and its private key (${(error as Error).message})`,
      { cause: error },
    );
  }
  return { cert, key };
}
