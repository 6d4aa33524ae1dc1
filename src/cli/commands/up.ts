/**
 * `aciimg up`: ensure a backend and say where it is and how long it took; `--dry-run` shows what
 * would be created; `--backends N` starts a pool's N members (up-pool.ts).
 */
import type { Command } from "commander";
import { backendSpecOf } from "../../config.js";
import { formatDuration } from "../../units.js";
import { warnDrift } from "../backend-settings.js";
import { canShowProgress, configOf, printJson, withEngine, type GlobalOptions } from "../context.js";
import { upPool } from "./up-pool.js";

export async function runUp(options: { dryRun?: boolean; backends?: string }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals, { backends: options.backends });
  const { checkPoolConfig } = await import("../../compose.js");
  checkPoolConfig(config);
  if (options.dryRun) {
    const { describeCreate } = await import("../../compose.js");
    const [plan, ...more] = await describeCreate(config);
    if (plan?.kind === "request") {
      // One ARM request per pool member (`--backends N`), each on its own line.
      for (const member of [plan, ...more]) if (member.kind === "request") printJson(member.request);
    } else if (plan) {
      const spec = backendSpecOf(config);
      if (globals.json) printJson({ provider: "local", spec, command: plan.command });
      else process.stdout.write(`provider: local\nspec: ${JSON.stringify(spec)}\nwould run: ${plan.command}\n`);
    }
    return 0;
  }
  if (config.backends > 1) return upPool(config, globals.json === true);
  return withEngine(config, async (engine) => {
    // discardStdin off: ora's raw mode would swallow Ctrl-C (report.ts).
    const text = `starting a ${config.provider} backend…`;
    const spinner =
      !globals.json && canShowProgress()
        ? (await import("ora")).default({ stream: process.stderr, text, discardStdin: false }).start()
        : undefined;
    try {
      const ready = await engine.ensure({
        onPhase: (phase) => spinner && (spinner.text = `starting a ${config.provider} backend… ${phase}`),
      });
      spinner?.stop();
      const { record } = ready;
      warnDrift(record, ready.drift, "up");
      if (globals.json) {
        printJson({
          provider: record.provider,
          name: record.name,
          endpoint: record.endpoint,
          created: ready.created,
          readyMs: Math.round(ready.readyMs),
        });
      } else {
        const how = ready.created
          ? `started in ${formatDuration(ready.readyMs)}`
          : `already running (checked in ${formatDuration(ready.readyMs)})`;
        process.stdout.write(`${record.provider} backend "${record.name}" at ${record.endpoint}: ${how}\n`);
      }
      return 0;
    } catch (error) {
      spinner?.fail();
      throw error;
    }
  });
}
