/** `aciimg down`: delete the backend now. */
import type { Command } from "commander";
import { configOf, printJson, withEngine, type GlobalOptions } from "../context.js";

export async function runDown(command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  return withEngine(config, async (engine) => {
    const removed = await engine.down();
    if (globals.json) printJson({ removed });
    else if (removed.length === 0) process.stderr.write(`no ${config.provider} backend "${config.name}" to delete\n`);
    else for (const r of removed) process.stdout.write(`deleted ${r.provider} backend "${r.name}" (${r.id})\n`);
    return 0;
  });
}
