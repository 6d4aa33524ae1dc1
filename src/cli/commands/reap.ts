/** `aciimg reap`: cron-friendly; silent when there is nothing to do unless --verbose; non-zero only on error. */
import type { Command } from "commander";
import { formatDuration, parseDuration } from "../../units.js";
import { configOf, printJson, withEngine, type GlobalOptions } from "../context.js";
import { describeOther } from "../foreign.js";

export async function runReap(options: { idle?: string; dryRun?: boolean }, command: Command): Promise<number> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const config = configOf(globals, options.idle === undefined ? {} : { idle: options.idle });
  const idleMs = options.idle === undefined ? config.idleMs : parseDuration(options.idle, "--idle");
  return withEngine(config, async (engine) => {
    const report = await engine.reap({ idleMs, dryRun: options.dryRun === true });
    if (globals.json) {
      printJson(report);
      return 0;
    }
    const verb = report.dryRun ? "would remove" : "removed";
    for (const r of report.removed) {
      process.stdout.write(
        `${verb} ${r.provider} backend "${r.name}" (${r.id}): ` +
          `${r.reason}${r.idleMs !== undefined ? `, idle ${formatDuration(r.idleMs)}` : ""}\n`,
      );
    }
    if (globals.verbose) {
      for (const k of report.kept) {
        process.stderr.write(
          `kept ${k.provider} backend "${k.name}" (${k.id}): ` +
            `${k.reason}${k.idleMs !== undefined ? `, idle ${formatDuration(k.idleMs)}` : ""}\n`,
        );
      }
      // Never reaped here: they may be running for another state (another person, another pipeline).
      for (const o of report.foreign) process.stderr.write(`left ${describeOther(o)}\n`);
      if (report.removed.length === 0 && report.kept.length === 0) process.stderr.write("nothing to reap\n");
    }
    return 0;
  });
}
