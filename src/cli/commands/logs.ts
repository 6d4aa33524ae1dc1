/** `aciimg logs`: the backend's recent log lines, from the provider. */
import type { Command } from "commander";
import { AciimgError } from "../../errors.js";
import { configOf, printWarning, withEngine, type GlobalOptions } from "../context.js";

export async function runLogs(options: { tail: number }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  // The state's record names the backend to ask the provider about.
  const { openStore } = await import("../../compose.js");
  const state = await (await openStore(config, { warn: printWarning })).read();
  const record = state.backends[config.name];
  if (record === undefined) {
    throw new AciimgError(
      "E_BAD_INPUT",
      `no ${config.provider} backend "${config.name}" in ${config.statePath}: start one with aciimg up`,
    );
  }
  return withEngine(config, async (engine) => {
    if (engine.provider.logs === undefined)
      throw new AciimgError("E_USAGE", `the ${engine.provider.kind} provider keeps no logs`);
    const text = await engine.provider.logs(record, options.tail);
    process.stdout.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
    return 0;
  });
}
