/**
 * `aciimg backend` (internal): the built-in imaginary-compatible server, as the local provider runs
 * it. Its stdout is a protocol: exactly one line, `{"listening":{"host":…,"port":…}}`, once
 * listening; everything else (access logs) goes to stderr. The key comes from ACIIMG_BACKEND_KEY
 * (or --key for manual use), never from a command line the provider writes.
 */
import { isIP } from "node:net";
import type { Command } from "commander";
import { AciimgError, usageError } from "../../errors.js";
import { parseBytes } from "../../units.js";
import { configOf, type GlobalOptions } from "../context.js";
import { parseInteger } from "../flags.js";
import { waitForStopSignal } from "./signals.js";

export interface BackendOptions {
  host: string;
  port: string;
  maxSize?: string;
  maxResolution?: string;
  concurrency?: string;
  key?: string;
}

export async function runBackend(options: BackendOptions, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals, { maxSize: options.maxSize, maxResolution: options.maxResolution });
  const apiKey = options.key ?? config.backendKey;
  if (!apiKey) throw new AciimgError("E_USAGE", "backend: no API key: set ACIIMG_BACKEND_KEY (or pass --key)");
  const port = parseInteger("--port", options.port, 0, 65535, "9000");
  if (isIP(options.host) === 0 && options.host !== "localhost") throw usageError("--host", "an IP address to listen on such as 127.0.0.1", options.host);
  const concurrency = options.concurrency === undefined ? undefined : parseInteger("--concurrency", options.concurrency, 1, 1024, "2");
  const { startBackend } = await import("../../backend/server.js");
  const server = await startBackend({
    apiKey,
    host: options.host,
    port,
    maxUploadBytes: options.maxSize === undefined ? config.maxUploadBytes : parseBytes(options.maxSize, "--max-size"),
    maxResolutionMP: config.maxResolutionMP,
    cpus: config.cpu,
    ...(concurrency === undefined ? {} : { concurrency }),
    log: (line: string) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify({ listening: { host: options.host, port: server.port } })}\n`);
  await waitForStopSignal();
  await server.close();
  return 0;
}
