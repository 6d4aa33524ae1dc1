/** `aciimg up`: ensure a backend and say where it is and how long it took; `--dry-run` shows what would be created. */
import type { Command } from "commander";
import { backendSpecOf } from "../../config.js";
import { formatDuration } from "../../units.js";
import { warnDrift } from "../backend-settings.js";
import { canShowProgress, configOf, printJson, withEngine, type GlobalOptions } from "../context.js";

export async function runUp(options: { dryRun?: boolean }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals);
  if (options.dryRun) {
    if (config.provider === "aci") {
      const { dryRunRequest } = await import("../../providers/aci-spec.js");
      printJson(dryRunRequest(config));
    } else {
      const spec = backendSpecOf(config);
      const { localRunDir } = await import("../../compose.js");
      const { backendArgs, socketPathOf } = await import("../../providers/local-process.js");
      // The local provider passes the key through the environment, never the command line; the
      // rest is exactly its command line (the same backendArgs): a socket in its private
      // directory, named by a random instance at start, and concurrency derived from --cpu.
      const args = backendArgs(spec, socketPathOf(localRunDir(config), "<instance>"));
      const commandLine = `ACIIMG_BACKEND_KEY=*** aciimg ${args.map(shellQuote).join(" ")}`;
      if (globals.json) printJson({ provider: "local", spec, command: commandLine });
      else process.stdout.write(`provider: local\nspec: ${JSON.stringify(spec)}\nwould run: ${commandLine}\n`);
    }
    return 0;
  }
  return withEngine(config, async (engine) => {
    const spinner = !globals.json && canShowProgress() ? (await import("ora")).default({ stream: process.stderr, text: `starting a ${config.provider} backend…` }).start() : undefined;
    try {
      const ready = await engine.ensure({ onPhase: (phase) => spinner && (spinner.text = `starting a ${config.provider} backend… ${phase}`) });
      spinner?.stop();
      const { record } = ready;
      warnDrift(record, ready.drift, "up");
      if (globals.json) {
        printJson({ provider: record.provider, name: record.name, endpoint: record.endpoint, created: ready.created, readyMs: Math.round(ready.readyMs) });
      } else {
        const how = ready.created ? `started in ${formatDuration(ready.readyMs)}` : `already running (checked in ${formatDuration(ready.readyMs)})`;
        process.stdout.write(`${record.provider} backend "${record.name}" at ${record.endpoint}: ${how}\n`);
      }
      return 0;
    } catch (error) {
      spinner?.fail();
      throw error;
    }
  });
}

/** An argument as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}
