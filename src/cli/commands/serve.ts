/** `aciimg serve`: the imaginary-style HTTP surface on this machine, proxying to an on-demand backend. */
import type { Command } from "commander";
import { AciimgError } from "../../errors.js";
import { warnDrift } from "../backend-settings.js";
import { configOf, printWarning, type GlobalOptions } from "../context.js";
import { waitForStopSignal } from "./signals.js";

export async function runServe(options: { port?: string; host?: string; key?: string }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals, { port: options.port, host: options.host, key: options.key });
  const key = config.serve.key;
  // Checked before the engine opens: `serve` never runs open (src/http/server.ts).
  if (!key) throw new AciimgError("E_USAGE", "serve: no API key for its clients: set ACIIMG_SERVE_KEY (or pass --key)");
  const [{ openEngine }, { startHttpServer }] = await Promise.all([import("../../compose.js"), import("../../http/server.js")]);
  const engine = await openEngine(config, { warn: printWarning });
  try {
    const server = await startHttpServer({
      engine,
      host: config.serve.host,
      port: config.serve.port,
      key,
      maxUploadBytes: config.maxUploadBytes,
      log: (line: string) => process.stderr.write(`${line}\n`),
    });
    // Requests go to the backend already running, with the settings it was started with (its
    // upload limit may be below this server's): say so now rather than with the first 413. A state
    // that cannot be read here is the first request's error to report, not a reason not to start.
    warnDrift({ provider: config.provider, name: config.name }, await engine.drift().catch(() => []), "serve");
    process.stderr.write(`aciimg serve listening on ${server.url} (${config.provider} provider; clients send the API-Key header)\n`);
    await waitForStopSignal();
    await server.close();
    return 0;
  } finally {
    await engine.close();
  }
}
